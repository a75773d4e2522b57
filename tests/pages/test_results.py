"""The shareable Results page: opened by token, read-only under every widget, revoked and expired
links show only why; the exported HTML report is self-contained."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser

from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from db.models import ActivationPolicy, Metric, ModelEvent, ModelVersion, Run, ShareLink
from db.session import session_scope
from jobs import sharing
from tests.pages.seed_runs import seed  # noqa: F401  (fixture)
from tests.pages.test_pages import ROOT

PAGE = str(ROOT / "pages" / "5_Results.py")


def results(token: str) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.query_params["token"] = token
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def snapshot() -> tuple:
    """Everything a write could change: row counts, statuses, run state, links."""
    with session_scope() as s:
        counts = tuple(s.exec(select(func.count()).select_from(t)).one() for t in (Run, Metric, ModelVersion, ModelEvent,
                                                                                  ShareLink, ActivationPolicy))
        versions = tuple(s.exec(select(ModelVersion.id, ModelVersion.status).order_by(ModelVersion.id)))
        runs = tuple(s.exec(select(Run.id, Run.status, Run.cancel_requested).order_by(Run.id)))
        links = tuple(s.exec(select(ShareLink.id, ShareLink.revoked_at).order_by(ShareLink.id)))
    return counts, versions, runs, links


def test_a_run_link_shows_its_headline_tiles_curves_and_config(seed):
    link = sharing.create_link([seed.anomaly_good], title="Age 11-13 model")
    at = results(link.token)
    assert at.title[0].value == "Age 11-13 model"
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["val reconstruction loss"] == "0.2123" and tiles["AUROC"] == "0.9123" and tiles["threshold"] == "0.5012"
    assert len(at.get("plotly_chart")) == 2  # train/loss and val/loss
    assert at.json and '"learning_rate"' in at.json[0].value


def test_every_widget_on_the_results_page_leaves_the_database_unchanged(seed):
    link = sharing.create_link([seed.anomaly_good, seed.yolo_good, seed.long_run], title="comparison")
    at = results(link.token)
    before = snapshot()
    assert not at.button and not at.get("page_link")  # nothing to press but downloads
    walked = 0
    for radio in at.radio:
        for option in radio.options:
            radio.set_value(option).run()
            walked += 1
    for slider in at.slider:
        slider.set_value(0.5).run()
        walked += 1
    for widget in [*at.selectbox, *at.multiselect, *at.checkbox, *at.toggle, *at.text_input, *at.number_input]:
        widget.set_value(widget.value).run()
        walked += 1
    assert walked >= 4 and len(at.get("download_button")) == 2
    assert not at.exception
    assert snapshot() == before


def test_a_revoked_link_shows_nothing_but_that(seed):
    link = sharing.create_link([seed.yolo_good])
    sharing.revoke_link(link.id)
    at = results(link.token)
    assert [e.value for e in at.error] == ["This link was revoked."]
    assert not at.metric and not at.title and not at.get("plotly_chart") and not at.json and not at.dataframe


def test_expired_and_unknown_tokens_say_so(seed):
    old = sharing.create_link([seed.yolo_good], expires_at=datetime.now(timezone.utc) - timedelta(minutes=1))
    assert "expired" in results(old.token).error[0].value
    assert "not valid" in results("not-a-real-token").error[0].value
    later = sharing.create_link([seed.yolo_good], expires_at=datetime.now(timezone.utc) + timedelta(days=1))
    assert not results(later.token).error


class _Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.external, self.inline = [], []
        self._in = False

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "link"):
            src = dict(attrs).get("src") or dict(attrs).get("href")
            if src:
                self.external.append(src)
            self._in = tag == "script"

    def handle_data(self, data):
        if self._in:
            self.inline.append(data)

    def handle_endtag(self, tag):
        self._in = False


def test_the_html_report_opens_offline_and_contains_the_curves(seed, tmp_path):
    from ui import comparison as cmp
    from ui.report import html_report

    data = cmp.load([seed.anomaly_good, seed.anomaly_worse])
    figures = cmp.curve_figures(data["points"], labels=cmp.run_labels(data["runs"]))
    page = html_report(title="Two anomaly runs", tiles={"#1": {"AUROC": "0.91"}},
                       tables={"Runs": cmp.runs_frame(data["runs"], data["summaries"])},
                       figures=list(figures.values()), configs={"#1": data["runs"][0].config})
    path = tmp_path / "report.html"
    path.write_text(page, encoding="utf-8")
    parser = _Scripts()
    parser.feed(path.read_text(encoding="utf-8"))
    assert parser.external == []  # no CDN, no server: everything is in the file
    js = "".join(parser.inline)
    assert "plotly.js" in js and len(js) > 1_000_000  # the library itself, inlined once
    assert js.count("Plotly.newPlot") == len(figures) == 2
    assert '"name":"#%d seed-anomaly-11-13"' % seed.anomaly_worse in js
    # the curve values themselves are in the file (val/loss of the worse run: 2.2 / (epoch + 1))
    assert '"y":[2.2,1.1,0.7333333333333334,0.55,0.44000000000000006]' in js
