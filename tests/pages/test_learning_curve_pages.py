"""Learning-curve views under AppTest: a seeded study (its runs' summaries written directly, no
training) shows its curve and sentence on the study page, on a shared Results link (read-only) and
as the gate's note on the Data Sufficiency and Launch pages; a bad fraction queues nothing."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from db import queries
from db.models import Run, RunStatus, Sweep
from db.session import session_scope
from jobs import sharing
from tests.pages.test_pages import ROOT, open_page

FRACTIONS = (0.125, 0.25, 0.5, 1.0)


@pytest.fixture(scope="module")
def study(stack):
    """A drawings dataset and a finished anomaly study on it: group 3-6 still falls steeply,
    group 6-9 is flat."""
    with session_scope() as s:
        ds = queries.create_dataset(session=s, name="curve-drawings", kind="drawings", root=str(stack),
                                    summary={"samples": 0})
        sweep = queries.create_sweep(session=s, name="seeded curve", family="anomaly", kind="curve",
                                     space={"kind": "curve", "fractions": list(FRACTIONS), "repeats": 2, "base": {}},
                                     method="grid", metric="val/loss", direction="minimize", max_trials=16,
                                     parallel=16, pruner="none", dataset_id=ds.id)
        queries.update_sweep(session=s, sweep_id=sweep.id, status="completed")
        run_ids = []
        for group, (a, b, c) in {"3-6": (4.0, 0.5, 0.2), "6-9": (0.0, 0.5, 0.4)}.items():
            for f in FRACTIONS:
                for r in range(2):
                    n = 200 * f
                    value = a * n ** -b + c + (0.002 if r else -0.002)
                    run = queries.create_run(session=s, family="anomaly", dataset_id=ds.id, sweep_id=sweep.id,
                                             name=f"seeded curve {group} · f={f:g} · r{r + 1}",
                                             config={"age_group": group, "data_fraction": f, "seed": 42 + r})
                    queries.set_run_status(session=s, run_id=run.id, status=RunStatus.completed,
                                           summary={"val/loss": value, "data/train": n})
                    run_ids.append(run.id)
        return ds.id, sweep.id, run_ids


def _ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_the_study_page_shows_each_group_its_curve_and_sentence(study):
    _, sweep_id, _ = study
    at = AppTest.from_file(str(ROOT / "pages" / "10_Learning_Curve.py"), default_timeout=60)
    at.query_params["study"] = str(sweep_id)
    _ok(at.run())
    steep = [w.value for w in at.warning]
    flat = [i.value for i in at.info]
    assert any("has not flattened" in w and "val/loss by" in w for w in steep), steep
    assert any("has flattened" in i for i in flat), flat
    assert len(at.get("plotly_chart")) == 2


def test_a_shared_study_is_read_only_and_exports_html(study):
    _, _, run_ids = study
    link = sharing.create_link(run_ids, title="Would more drawings help?", kind="curve")
    at = AppTest.from_file(str(ROOT / "pages" / "5_Results.py"), default_timeout=60)
    at.query_params["token"] = link.token
    _ok(at.run())
    assert at.title[0].value == "Would more drawings help?"
    assert len(at.get("plotly_chart")) == 2 and not at.button
    assert any("has not flattened" in w.value for w in at.warning)


def test_the_gate_flags_the_steep_group_on_the_sufficiency_and_launch_pages(study):
    ds_id, sweep_id, _ = study
    for page in ("pages/1_Data_Sufficiency.py", "pages/2_Launch_Training.py"):
        at = _ok(open_page(page).run())
        if "Sufficiency" in page:
            at.selectbox(key="sufficiency-dataset").set_value(ds_id)
        else:
            box = next(b for b in at.selectbox if b.label == "Dataset")
            box.select_index(next(i for i, o in enumerate(box.options) if o.startswith("curve-drawings")))
        _ok(at.run())
        notes = [w.value for w in at.warning if w.value.startswith("More data likely helps")]
        assert notes and "3-6" in notes[0] and "6-9" not in notes[0], (page, notes)
        assert any(f"#{sweep_id}" in str(p.proto.label) for p in at.get("page_link")), "it links to the study"


def _counts():
    with session_scope() as s:
        return tuple(s.exec(select(func.count()).select_from(t)).one() for t in (Run, Sweep))


@pytest.mark.parametrize("fractions", ["0,0.5", "0.5,2", "half"])
def test_a_bad_fraction_on_the_sufficiency_page_queues_nothing(study, fractions):
    ds_id, _, _ = study
    at = _ok(open_page("pages/1_Data_Sufficiency.py").run())
    at.selectbox(key="sufficiency-dataset").set_value(ds_id)
    _ok(at.run())
    before = _counts()
    at.text_input(key="sufficiency-curve-fractions").input(fractions)
    form_submit = [b for b in at.button if b.label == "Queue the study"]
    form_submit[0].click()
    _ok(at.run())
    assert any("Nothing was queued" in e.value for e in at.error), [e.value for e in at.error]
    assert any("fractions" in m.value for m in at.markdown)
    assert _counts() == before
