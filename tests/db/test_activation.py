"""The activation policy, manual changes and their audit lines, and one active version per scope
even when activations race (threads and processes), on SQLite and PostgreSQL."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

import tests.fixtures.toy_family  # noqa: F401  (registers 'toy' with its val/loss headline)
from db import queries
from db.migrate import upgrade
from db.models import RunStatus
from db.session import dispose_engines, session_scope
from engine.trust import UntrustedModelError
from jobs import registry
from settings import get_settings
from tests.conftest import create_postgres_database, postgres_admin_url

ADMIN = postgres_admin_url()
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path, monkeypatch):
    """A fresh, migrated database that ``session_scope()`` (and child processes) use."""
    drop = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'registry.db'}"
    else:
        if ADMIN is None:
            pytest.skip("no PostgreSQL server answers on 127.0.0.1:5432")
        url, drop = create_postgres_database(ADMIN)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("TRAINYARD_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    dispose_engines()
    upgrade(url)
    yield url
    dispose_engines()
    get_settings.cache_clear()
    if drop:
        drop()


def finished(val_loss: float | None, *, scope: str = "all", family: str = "toy") -> int:
    """A completed run whose model is registered as a candidate and put through the policy."""
    metrics = {} if val_loss is None else {"val/loss": val_loss}
    with session_scope() as s:
        run = queries.create_run(session=s, family=family, config={})
        queries.set_run_status(session=s, run_id=run.id, status=RunStatus.completed, summary=metrics)
        version = registry.register_candidate(session=s, run_id=run.id, family=family, artifact_path=f"{run.id}.pt",
                                              sha256="0" * 64, task=None, scope=scope, metrics=metrics,
                                              threshold=None)
    registry.decide(version.id)
    return version.id


def status(version_id: int) -> str:
    with session_scope() as s:
        v = queries.get_model_version(session=s, model_version_id=version_id)
        assert v.active == (v.status == "active") and (v.active_slot is not None) == v.active
        return v.status


def events(version_id: int | None = None) -> list:
    with session_scope() as s:
        return list(reversed(queries.model_events(session=s, model_version_id=version_id)))


def test_first_model_of_a_scope_becomes_active(db):
    first = finished(0.5)
    assert status(first) == "active"
    assert [e.action for e in events(first)] == ["register", "activate"]
    assert "no active model" in events(first)[-1].reason and events(first)[-1].actor == "policy"


def test_worse_candidate_does_not_replace_a_better_active_one(db):
    good = finished(0.2)
    worse = finished(0.6)
    assert (status(good), status(worse)) == ("active", "candidate")
    keep = events(worse)[-1]
    assert keep.action == "keep" and "0.6 does not beat" in keep.reason and f"#{good}" in keep.reason
    tie = finished(0.2)
    assert status(tie) == "candidate" and status(good) == "active"  # only strictly better replaces


def test_better_candidate_replaces_a_worse_active_one_and_archives_it(db):
    old = finished(0.6)
    new = finished(0.2)
    assert (status(old), status(new)) == ("archived", "active")
    line = events(new)[-1]
    assert line.action == "activate" and line.replaced_id == old and "beats" in line.reason


def test_a_candidate_without_the_headline_metric_never_replaces(db):
    active = finished(0.6)
    blank = finished(None)
    assert (status(active), status(blank)) == ("active", "candidate")
    assert "no val/loss" in events(blank)[-1].reason


def test_scopes_are_independent(db):
    a = finished(0.2, scope="a")
    b = finished(0.9, scope="b")
    assert status(a) == status(b) == "active"


def test_manual_policy_never_activates_and_always_policy_always_does(db):
    registry.set_policy("toy", "manual", actor="ana")
    first = finished(0.5)
    assert status(first) == "candidate" and "policy manual" in events(first)[-1].reason
    registry.set_policy("toy", "always", actor="ana")
    worse_a = finished(0.7)
    worse_b = finished(0.9)
    assert (status(worse_a), status(worse_b)) == ("archived", "active")
    with session_scope() as s:
        assert queries.get_activation_policy(session=s, family="toy") == "always"
        assert queries.get_activation_policy(session=s, family="yolo") == "auto-if-better"
        policy_lines = [e for e in queries.model_events(session=s, family="toy") if e.action == "policy"]
    assert [e.reason for e in reversed(policy_lines)] == ["policy auto-if-better → manual", "policy manual → always"]
    assert all(e.actor == "ana" for e in policy_lines)
    with pytest.raises(ValueError, match="unknown activation policy"):
        registry.set_policy("toy", "sometimes")


def test_manual_activate_rollback_archive_and_their_audit_lines(db):
    good = finished(0.2)
    worse = finished(0.6)
    registry.activate(worse, actor="ana")
    assert (status(good), status(worse)) == ("archived", "active")
    line = events(worse)[-1]
    assert (line.action, line.replaced_id, line.actor, line.reason) == ("activate", good, "ana", "activated by hand")
    back = registry.rollback(family="toy", task=None, scope="all", actor="bo")
    assert back.id == good and (status(good), status(worse)) == ("active", "archived")
    assert events(good)[-1].reason == f"rollback from #{worse}" and events(good)[-1].actor == "bo"
    registry.archive(good, actor="bo")
    assert status(good) == "archived"
    with session_scope() as s:
        assert queries.active_model(session=s, family="toy", scope="all") is None
    with pytest.raises(LookupError, match="nothing to roll back"):
        registry.rollback(family="toy", task=None, scope="all")


def test_delete_removes_the_file_keeps_history_and_cannot_be_activated(db):
    artifacts = get_settings().resolved_artifacts_dir / "runs" / "1"
    artifacts.mkdir(parents=True)
    model = artifacts / "model.pt"
    model.write_bytes(b"weights")
    import hashlib

    with session_scope() as s:
        run = queries.create_run(session=s, family="toy", config={})
        v = queries.register_model_version(session=s, run_id=run.id, family="toy", artifact_path=str(model),
                                           sha256=hashlib.sha256(b"weights").hexdigest(), scope="all",
                                           activate=False)
    assert registry.verified_artifact(v.id) == ("model.pt", b"weights")
    model.write_bytes(b"tampered")
    with pytest.raises(UntrustedModelError, match="changed on disk"):
        registry.verified_artifact(v.id)
    registry.delete(v.id, actor="ana")
    assert not model.exists() and status(v.id) == "deleted"
    assert [e.action for e in events(v.id)] == ["register", "deleted"]
    with pytest.raises(ValueError, match="deleted"):
        registry.activate(v.id)


def test_the_database_itself_refuses_a_second_active_version(db):
    a, b = finished(0.5), finished(0.9)
    with pytest.raises(IntegrityError):
        with session_scope() as s:
            v = queries.get_model_version(session=s, model_version_id=b)
            v.active, v.status, v.active_slot = True, "active", queries.model_slot("toy", None, "all")
            s.add(v)
            s.flush()
    assert status(a) == "active" and status(b) == "candidate"


def _assert_one_active_and_a_consistent_audit_chain(ids: list[int]) -> None:
    with session_scope() as s:
        versions = [queries.get_model_version(session=s, model_version_id=i) for i in ids]
        lines = [e for e in reversed(queries.model_events(session=s, family="toy")) if e.action == "activate"]
    active = [v for v in versions if v.active]
    assert len(active) == 1 and active[0].status == "active"
    assert all(v.status == "archived" for v in versions if not v.active)
    # every activation replaced exactly the version active just before it: no lost update
    for before, after in zip(lines, lines[1:]):
        assert after.replaced_id == before.model_version_id
    assert lines[-1].model_version_id == active[0].id


def test_racing_threads_leave_exactly_one_active(db):
    registry.set_policy("toy", "manual")  # all start as candidates, so each activation is a change
    ids = [finished(0.5 + i) for i in range(6)]
    barrier = threading.Barrier(len(ids))
    errors = []

    def go(version_id: int) -> None:
        barrier.wait()
        try:
            registry.activate(version_id, actor=f"thread-{version_id}")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    _assert_one_active_and_a_consistent_audit_chain(ids)


def test_racing_processes_leave_exactly_one_active(db, tmp_path):
    registry.set_policy("toy", "manual")
    ids = [finished(0.5 + i) for i in range(4)]
    go = tmp_path / "go"
    script = (
        "import os, sys, time\n"
        "from pathlib import Path\n"
        "from jobs import registry\n"
        "go = Path(sys.argv[2])\n"
        "while not go.exists():\n"
        "    time.sleep(0.005)\n"
        "registry.activate(int(sys.argv[1]), actor='process')\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(i), str(go)], cwd=ROOT, env=dict(os.environ),
                              stderr=subprocess.PIPE, text=True) for i in ids]
    time.sleep(3)  # let every interpreter import and wait at the line
    go.touch()
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err[-2000:]
    _assert_one_active_and_a_consistent_audit_chain(ids)
    with session_scope() as s:
        assert sum(e.actor == "process" for e in queries.model_events(session=s, family="toy")) == len(ids)


def test_migration_gives_existing_versions_a_status_and_one_active_per_scope(tmp_path):
    from sqlalchemy import text

    from db.session import get_engine

    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, revision="0002")
    with get_engine(url).begin() as conn:
        conn.execute(text("INSERT INTO run (id, name, family, config, status, priority, progress_done, progress_total, "
                          "cancel_requested, summary, created_at) VALUES (1, 'r', 'toy', '{}', 'completed', 'default', "
                          "0, 0, 0, '{}', '2026-01-01')"))
        for id_, scope, active in [(1, "a", 1), (2, "a", 1), (3, "a", 0), (4, "b", 1)]:
            conn.execute(text("INSERT INTO modelversion (id, run_id, family, scope, metrics, artifact_path, active, "
                              "created_at) VALUES (:id, 1, 'toy', :scope, '{}', 'x', :active, '2026-01-01')"),
                         {"id": id_, "scope": scope, "active": active})
    upgrade(url)
    with get_engine(url).connect() as conn:
        rows = conn.execute(text("SELECT id, status, active, active_slot FROM modelversion ORDER BY id")).fetchall()
    assert [tuple(r) for r in rows] == [(1, "archived", 0, None), (2, "active", 1, "toy||a"),
                                        (3, "candidate", 0, None), (4, "active", 1, "toy||b")]
