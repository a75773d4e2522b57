"""An age-group merge suggested on the Data Sufficiency page, applied with one click, fills the
Launch form (dataset, age groups with the merged one, min_samples), and launching it queues one
run per group of that list: the merged group trains as one model."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from db import queries
from db.session import session_scope
from jobs import api
from jobs.datasets import generate_sample_job

ROOT = Path(__file__).resolve().parents[2]


def test_an_applied_merge_suggestion_launches_the_merged_groups(stack):
    info = generate_sample_job("drawings", "merge-apply", {"count": 40, "seed": 5, "size": 32})
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/1_Data_Sufficiency.py")
    at.run()
    at.selectbox(key="sufficiency-dataset").set_value(info["dataset_id"])
    at.run()
    key = f"drawings-{info['dataset_id']}"
    at.text_input(key=f"{key}-groups").set_value("3-4,4-5,5-8,8-12")
    at.number_input(key=f"{key}-min").set_value(8)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    suggestions = [m.value for m in [*at.info, *at.warning] if m.value.startswith("Suggestion: merge")]
    assert suggestions, [m.value for m in [*at.info, *at.warning]]
    merged = suggestions[0].split(" into ")[1].split(":")[0]
    at.button(key=f"{key}-merge-0").click()
    at.run()  # st.switch_page: this run ends on the Launch page
    assert not at.exception, [e.message for e in at.exception]
    assert at.text_input(key="anomaly-form-groups").value
    at.switch_page("pages/2_Launch_Training.py")  # AppTest reruns its own page unless told where the browser is
    at.run()

    groups = at.text_input(key="anomaly-form-groups").value  # the Launch page, filled in
    assert merged in groups.split(","), groups
    assert at.number_input(key="anomaly-form-min_samples").value == 8
    assert any("merged into" in m.value for m in at.info), [m.value for m in at.info]
    with session_scope() as s:
        before = {r.id for r in queries.list_runs(session=s)}
    at.checkbox(key="override").check()  # the gate is not under test here
    at.button(key="launch-form").click()
    at.run()
    assert any("Queued" in m.value for m in at.success), [e.value for e in at.error]
    with session_scope() as s:
        runs = sorted((r for r in queries.list_runs(session=s) if r.id not in before), key=lambda r: r.id)
    assert [r.config["age_group"] for r in runs] == groups.split(",")
    assert merged in [r.config["age_group"] for r in runs] and all(r.dataset_id == info["dataset_id"] for r in runs)
    assert all(r.config["min_samples"] == 8 for r in runs)
    for run in runs:
        api.cancel_run(run.id)
