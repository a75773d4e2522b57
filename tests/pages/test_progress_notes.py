"""The Progress page's *Notes* tab: description and tags saved and searched; delete behind its
confirmation, refused while the run is active; a stalled run is marked."""
from __future__ import annotations

from db import queries
from db.models import RunStatus, utcnow
from db.session import session_scope
from settings import get_settings
from tests.pages.test_progress_curves import _open


def _finished_run(name: str) -> int:
    out = get_settings().resolved_artifacts_dir / "runs" / f"notes-{name}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "train.log").write_text("a line\n")
    with session_scope() as s:
        run = queries.create_run(session=s, family="toy", config={"epochs": 1}, name=name)
        queries.set_run_status(session=s, run_id=run.id, status=RunStatus.completed, out_dir=str(out),
                               started_at=utcnow())
    return run.id


def test_notes_are_saved_shown_and_searchable(stack):
    run_id = _finished_run("notes-page")
    at = _open(run_id)
    at.text_area(key=f"notes-{run_id}-description").set_value("Tried a smaller learning rate")
    at.text_input(key=f"notes-{run_id}-tags").set_value("lr-study, baseline")
    at.button(key=f"notes-{run_id}-save").click().run()
    assert not at.exception, [e.message for e in at.exception]
    with session_scope() as s:
        run = queries.get_run(session=s, run_id=run_id)
    assert run.description == "Tried a smaller learning rate" and run.tags == ["lr-study", "baseline"]
    assert at.selectbox[0].value.id == run_id and "lr-study, baseline" in at.selectbox[0].format_func(at.selectbox[0].value)
    at.text_input(key="run-search").set_value("smaller learning").run()
    assert len(at.selectbox[0].options) == 1 and at.selectbox[0].value.id == run_id
    at.text_input(key="run-search").set_value("").run()
    at.multiselect(key="run-tags").set_value(["lr-study"]).run()
    assert len(at.selectbox[0].options) == 1 and at.selectbox[0].value.id == run_id

    at.text_input(key=f"notes-{run_id}-tags").set_value("x" * 41)
    at.button(key=f"notes-{run_id}-save").click().run()
    assert any("at most 40" in e.value for e in at.error)


def test_delete_needs_the_confirmation_and_is_refused_while_active(stack):
    run_id = _finished_run("to-delete")
    at = _open(run_id)
    delete = at.button(key=f"notes-{run_id}-delete")
    assert delete.disabled
    at.checkbox(key=f"notes-{run_id}-confirm").check().run()
    at.button(key=f"notes-{run_id}-delete").click().run()
    assert not at.exception, [e.message for e in at.exception]
    with session_scope() as s:
        assert queries.get_run(session=s, run_id=run_id) is None
        assert queries.model_events(session=s, family="toy", limit=1)[0].reason.startswith(f"run #{run_id} ")

    with session_scope() as s:
        active = queries.create_run(session=s, family="toy", config={}, name="busy")
        queries.set_run_status(session=s, run_id=active.id, status=RunStatus.training, stalled_at=utcnow(),
                               progress_at=utcnow(), started_at=utcnow())
    at = _open(active.id)
    assert not [b for b in at.button if b.key == f"notes-{active.id}-delete"]
    assert any("Cannot delete" in c.value and "is training" in c.value for c in at.caption)
    assert any(w.value.startswith("Stalled: no progress") for w in at.warning)
    assert "(stalled)" in at.selectbox[0].format_func(at.selectbox[0].value)
    with session_scope() as s:
        queries.set_run_status(session=s, run_id=active.id, status=RunStatus.cancelled)
