"""Model Comparison under AppTest against a database seeded with runs of several families."""
from __future__ import annotations

import json

from streamlit.testing.v1 import AppTest

from db import queries
from db.session import session_scope
from tests.pages.seed_runs import seed  # noqa: F401  (fixture)
from tests.pages.test_pages import open_page
from tests.pages.test_progress_curves import _array  # plotly arrays come as lists or typed arrays

PAGE = "pages/4_Model_Comparison.py"


def compare(ids: list[int]) -> AppTest:
    at = open_page(PAGE)
    at.query_params["runs"] = ",".join(map(str, ids))
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def charts(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def test_runs_from_the_url_fill_the_runs_table_with_params_and_headlines(seed):
    at = compare([seed.anomaly_good, seed.anomaly_worse, seed.yolo_good])
    assert at.multiselect(key="runs").value == [seed.anomaly_good, seed.anomaly_worse, seed.yolo_good]
    runs = at.dataframe[0].value
    assert list(runs["run"]) == [seed.anomaly_good, seed.anomaly_worse, seed.yolo_good]
    assert {"val/loss ↓", "val/auroc ↑", "val/mAP50-95 ↑", "param.learning_rate"} <= set(runs.columns)
    assert runs.loc[runs["run"] == seed.yolo_good, "val/mAP50-95 ↑"].item() == 0.49
    assert "param.hidden" in runs.columns  # equal for both anomaly runs, absent for yolo: that differs
    at.toggle(key="diff-only").set_value(False).run()
    assert "created" in at.dataframe[0].value.columns


def test_differences_only_hides_parameters_every_run_shares(seed):
    at = compare([seed.anomaly_good, seed.anomaly_worse])
    cols = set(at.dataframe[0].value.columns)
    assert "param.hidden" not in cols and "family" not in cols and "param.epochs" in cols


def test_metrics_table_deltas_against_the_active_model_and_a_pinned_run(seed):
    at = compare([seed.anomaly_good, seed.anomaly_worse])
    metrics = at.dataframe[1].value
    worse = metrics[(metrics["run"] == seed.anomaly_worse) & (metrics["metric"] == "val/loss")].iloc[0]
    # the active model of the scope is the better run: the worse one is 0.45 − 0.2123 behind, on the loss side
    assert worse["baseline"] == f"#{seed.anomaly_good}" and abs(worse["delta"] - (0.45 - 0.2123456789012)) < 1e-9
    assert worse["better"] == "lower" and worse["best"] == min(2.2 / (e + 1) for e in range(5))
    at.selectbox(key="baseline").set_value(seed.anomaly_worse).run()
    metrics = at.dataframe[1].value
    good = metrics[(metrics["run"] == seed.anomaly_good) & (metrics["metric"] == "val/auroc")].iloc[0]
    assert good["baseline"] == f"#{seed.anomaly_worse}" and abs(good["delta"] - (0.91234567 - 0.7)) < 1e-9


def test_curves_overlay_runs_and_long_histories_are_downsampled(seed):
    at = compare([seed.long_run, seed.anomaly_good])
    at.multiselect(key="curve-names").set_value(["train/loss"]).run()
    assert not at.exception
    (fig,) = [c for c in charts(at) if c["layout"].get("title", {}).get("text") == "train/loss"]
    lines = [t for t in fig["data"] if t.get("fill") != "toself"]
    assert len(lines) == 2  # one line per run
    band = [t for t in fig["data"] if t.get("fill") == "toself"]
    band_y = _array(band[0]["y"]) if band else []
    assert band and max(band_y) == 50.0 and min(band_y) == -5.0  # the spike and the dip survive
    assert all(len(_array(t["y"])) <= 1000 for t in lines)
    at.radio(key="align").set_value("wall time (s)").run()
    at.slider(key="smoothing").set_value(0.9).run()
    assert not at.exception


def test_parallel_coordinates_and_exports(seed):
    at = compare([seed.anomaly_good, seed.anomaly_worse])
    assert any(t["type"] == "parcoords" for c in charts(at) for t in c["data"])
    labels = [b.label for b in at.get("download_button")]
    assert {"Runs as CSV", "Metrics as CSV", "HTML report (opens offline)"} <= set(labels)


def test_filters_list_runs_and_an_empty_choice_explains_itself(seed):
    at = open_page(PAGE)
    at.run()
    at.selectbox(key="f-family").set_value("yolo").run()
    options = at.multiselect(key="runs").options
    assert any(f"#{seed.yolo_zero} " in o for o in options) and not any(f"#{seed.anomaly_good} " in o for o in options)
    assert any("Pick runs to compare" in i.value for i in at.info)


def test_creating_a_share_link_from_the_comparison(seed):
    at = compare([seed.anomaly_good, seed.yolo_good])
    with session_scope() as s:
        before = len(queries.list_share_links(session=s))
    at.button(key="share-comparison-create").click().run()
    assert not at.exception
    with session_scope() as s:
        links = queries.list_share_links(session=s)
    assert len(links) == before + 1 and links[0].run_ids == sorted([seed.anomaly_good, seed.yolo_good])
    assert links[0].kind == "comparison" and len(links[0].token) >= 40
    assert any(links[0].token in c.value for c in at.code)
