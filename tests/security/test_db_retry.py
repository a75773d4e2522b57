"""A database lock held longer than the lock timeout slows a training down but never fails it:
the run context's writes retry with backoff (db/retry.py)."""
from __future__ import annotations

import logging
import threading
import time

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from db import queries
from db.models import utcnow
from db.retry import is_transient, retry_transient
from db.session import dispose_engines, get_engine, session_scope
from settings import get_settings

HOLD_S = 2.0
TIMEOUT_MS = 200


@pytest.fixture
def short_lock_timeout(stack, monkeypatch):
    """Statements give up on a lock after 200 ms (instead of 30 s), for this test only."""
    monkeypatch.setenv("TRAINYARD_DB_LOCK_TIMEOUT_MS", str(TIMEOUT_MS))
    get_settings.cache_clear()
    dispose_engines()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()
    dispose_engines()


def _hold_write_lock(ready: threading.Event, seconds: float) -> None:
    """Another client holding the database's write lock (SQLite) or the metric and run tables'
    locks (PostgreSQL) for ``seconds``."""
    conn = get_engine().raw_connection()
    try:
        cur = conn.cursor()
        if get_engine().dialect.name == "sqlite":
            cur.execute("BEGIN IMMEDIATE")
        else:
            cur.execute("LOCK TABLE metric, run, checkpoint IN ACCESS EXCLUSIVE MODE")
        ready.set()
        time.sleep(seconds)
        conn.rollback()
    finally:
        conn.close()


def test_context_writes_outlast_a_lock_longer_than_the_timeout(short_lock_timeout, tmp_path, caplog):
    from jobs.context import DbRunContext

    with session_scope() as s:
        run = queries.create_run(session=s, family="toy", config={})
    ctx = DbRunContext(run.id, out_dir=tmp_path, flush_rows=1, poll_s=0.0)
    ckpt = tmp_path / "c.pt"
    ckpt.write_bytes(b"weights")

    ready = threading.Event()
    locker = threading.Thread(target=_hold_write_lock, args=(ready, HOLD_S))
    locker.start()
    assert ready.wait(10)
    try:
        # without retries a write fails once the lock outlasts the timeout
        with pytest.raises(OperationalError):
            with session_scope() as s:
                queries.update_run(session=s, run_id=run.id, heartbeat_at=utcnow())
        t0 = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="trainyard.db"):
            ctx.log({"train/loss": 0.5}, step=0, epoch=0)  # status + metrics flush
            ctx.progress(1, 2)
            ctx.checkpoint(ckpt, step=0, monitored=0.5)
        waited = time.monotonic() - t0
    finally:
        locker.join()
    assert waited >= 0.5, waited  # it really waited for the lock
    assert any("retrying in" in r.getMessage() for r in caplog.records)
    with session_scope() as s:
        assert [(m.step, m.value) for m in queries.metric_rows(session=s, run_id=run.id)] == [(0, 0.5)]
        assert queries.get_run(session=s, run_id=run.id).progress_done == 1
        assert [c.step for c in queries.list_checkpoints(session=s, run_id=run.id)] == [0]


def test_retry_gives_up_after_its_deadline_and_keeps_the_rows(short_lock_timeout, tmp_path, monkeypatch):
    from jobs.context import DbRunContext

    monkeypatch.setenv("TRAINYARD_DB_RETRY_S", "0.5")
    get_settings.cache_clear()
    with session_scope() as s:
        run = queries.create_run(session=s, family="toy", config={})
    ctx = DbRunContext(run.id, out_dir=tmp_path, flush_rows=1000)
    ctx.log({"train/loss": 0.5}, step=0)
    ready = threading.Event()
    locker = threading.Thread(target=_hold_write_lock, args=(ready, HOLD_S))
    locker.start()
    assert ready.wait(10)
    try:
        with pytest.raises(OperationalError):
            ctx.flush()
    finally:
        locker.join()
    ctx.flush()  # the rows waited in the buffer and go in now
    with session_scope() as s:
        assert [m.value for m in queries.metric_rows(session=s, run_id=run.id)] == [0.5]


class _PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"pg error {sqlstate}")
        self.sqlstate = sqlstate


@pytest.mark.parametrize("orig, transient", [
    (_PgError("40001"), True), (_PgError("40P01"), True), (_PgError("55P03"), True), (_PgError("23505"), False),
    (Exception("database is locked"), True), (Exception("no such table: metric"), False),
])
def test_only_lock_deadlock_and_serialization_errors_are_retried(orig, transient):
    assert is_transient(OperationalError("UPDATE run", {}, orig)) is transient


def test_a_permanent_error_is_raised_at_once():
    calls = []

    def fail() -> None:
        calls.append(1)
        raise IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed"))

    with pytest.raises(IntegrityError):
        retry_transient(fail, what="test", deadline_s=5)
    assert calls == [1]
