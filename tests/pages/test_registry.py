"""The Models page (registry) under AppTest: statuses from the real policy, activate and roll
back with confirmation, verified downloads, the policy setting and the audit trail."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from db import queries
from db.session import session_scope
from jobs import registry
from tests.pages.seed_runs import seed  # noqa: F401  (fixture)
from tests.pages.test_pages import open_page

PAGE = "pages/8_Models.py"


def models_page(family: str, task: str | None, scope: str) -> AppTest:
    at = open_page(PAGE)
    at.run()
    at.selectbox(key="family").set_value(family).run()
    at.selectbox(key="scope").set_value((task, scope)).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def status(version_id: int) -> str:
    with session_scope() as s:
        return queries.get_model_version(session=s, model_version_id=version_id).status


def pick_version(at: AppTest, version_id: int) -> None:
    with session_scope() as s:
        version = queries.get_model_version(session=s, model_version_id=version_id)
    at.selectbox(key="version").set_value(version).run()


def test_a_worse_yolo_run_finishing_later_stays_a_candidate_and_the_page_says_why(seed):
    good, zero = seed.versions[seed.yolo_good], seed.versions[seed.yolo_zero]
    assert (status(good), status(zero)) == ("active", "candidate")
    at = models_page("yolo", "detect", "detect")
    # the registry's table (the base-model catalog's comes first once the catalog holds entries)
    table = next(d.value for d in at.dataframe if "version" in d.value.columns)
    assert dict(zip(table["version"], table["status"]))[good] == "active"
    assert dict(zip(table["version"], table["status"]))[zero] == "candidate"
    assert table.loc[table["version"] == good, "mAP50-95"].item() == "0.49"
    audit = at.dataframe[-1].value
    assert any(f"0 does not beat active #{good}'s 0.49" in why for why in audit["why"])


def test_activate_needs_confirmation_then_roll_back_restores_the_previous_one(seed):
    good, worse = seed.versions[seed.anomaly_good], seed.versions[seed.anomaly_worse]
    at = models_page("anomaly", None, "11-13")
    pick_version(at, worse)
    at.selectbox(key="action").set_value("activate").run()
    assert at.button(key="apply").disabled  # nothing happens without the confirmation
    at.checkbox(key=f"confirm-activate-{worse}").check().run()
    at.button(key="apply").click().run()
    assert not at.exception
    assert (status(good), status(worse)) == ("archived", "active")
    # the tick given to "activate" does not carry over to the action that replaces it in the list
    at.selectbox(key="action").set_value("roll back this scope").run()
    assert at.button(key="apply").disabled
    assert any(f"Re-activates #{good}" in c.value for c in at.caption)
    at.checkbox(key=f"confirm-roll back this scope-{worse}").check().run()
    at.button(key="apply").click().run()
    assert (status(good), status(worse)) == ("active", "archived")
    with session_scope() as s:
        lines = queries.model_events(session=s, family="anomaly", limit=2)
    assert [(e.action, e.model_version_id, e.replaced_id, e.actor) for e in lines] == [
        ("activate", good, worse, "dashboard"), ("activate", worse, good, "dashboard")]
    assert lines[0].reason == f"rollback from #{worse}"


def test_the_model_file_downloads_only_while_its_sha256_matches(seed):
    good = seed.versions[seed.yolo_good]
    at = models_page("yolo", "detect", "detect")
    pick_version(at, good)
    at.checkbox(key="prepare").check().run()
    labels = [b.label for b in at.get("download_button")]
    assert "Model file model.pt" in labels and "Run log" in labels and "Config (JSON)" in labels
    with session_scope() as s:
        path = Path(queries.get_model_version(session=s, model_version_id=good).artifact_path)
    original = path.read_bytes()
    try:
        path.write_bytes(b"swapped")
        at.run()
        assert "Model file model.pt" not in [b.label for b in at.get("download_button")]
        assert any("changed on disk" in e.value for e in at.error)
    finally:
        path.write_bytes(original)


def test_policy_is_edited_on_the_page_and_audited(seed):
    at = open_page(PAGE)
    at.run()
    at.selectbox(key="policy-family").set_value("yolo").run()
    at.selectbox(key="policy-choice").set_value("manual").run()
    at.button(key="policy-save").click().run()
    assert not at.exception
    with session_scope() as s:
        assert queries.get_activation_policy(session=s, family="yolo") == "manual"
        assert queries.model_events(session=s, family="yolo", limit=1)[0].reason == "policy auto-if-better → manual"
    registry.set_policy("yolo", "auto-if-better")
