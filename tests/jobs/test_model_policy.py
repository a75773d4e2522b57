"""Through the real queue and worker: a worse run finishing after a better one leaves the better
one active and is registered as a candidate, with an audit line saying why."""
from __future__ import annotations

from db import queries
from db.models import RunStatus
from db.session import session_scope
from jobs import api, registry
from tests.conftest import wait_for_status


def version_of(run_id: int):
    with session_scope() as s:
        (v,) = [m for m in queries.list_model_versions(session=s, family="toy") if m.run_id == run_id]
        return v


def test_worse_run_finishing_later_stays_candidate(stack, worker):
    with session_scope() as s:  # start the scope empty: earlier tests may have left an active toy model
        current = queries.active_model(session=s, family="toy", scope="all")
    if current is not None:
        registry.archive(current.id, actor="test")
    good = api.submit_run(family="toy", config={"epochs": 4, "batches": 4, "lr": 0.1})
    assert wait_for_status(good.id, [RunStatus.completed, RunStatus.failed]).status == RunStatus.completed
    worse = api.submit_run(family="toy", config={"epochs": 1, "batches": 1, "lr": 0.0001})
    assert wait_for_status(worse.id, [RunStatus.completed, RunStatus.failed]).status == RunStatus.completed
    g, w = version_of(good.id), version_of(worse.id)
    assert w.metrics["val/loss"] > g.metrics["val/loss"]
    assert (g.status, w.status) == ("active", "candidate")
    with session_scope() as s:
        assert queries.active_model(session=s, family="toy", scope="all").id == g.id
        (keep,) = [e for e in queries.model_events(session=s, model_version_id=w.id) if e.action == "keep"]
    assert keep.actor == "policy" and f"does not beat active #{g.id}" in keep.reason
