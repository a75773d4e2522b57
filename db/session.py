"""Database engine and sessions: SQLite file by default, PostgreSQL by URL."""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

from settings import get_settings

_ENGINES: dict[str, Engine] = {}


def lock_timeout_ms() -> int:
    """How long a statement waits for a lock before failing (and being retried, see db/retry.py)."""
    return get_settings().db_lock_timeout_ms


def normalize_url(url: str) -> str:
    """Use psycopg 3 for plain ``postgresql://`` URLs (psycopg2 is not installed)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={lock_timeout_ms()}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def get_engine(url: str | None = None) -> Engine:
    """One engine per URL per process (the pool is not shared across fork, see below)."""
    url = normalize_url(url or get_settings().resolved_database_url)
    engine = _ENGINES.get(url)
    if engine is None:
        if url.startswith("sqlite"):
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, connect_args={"check_same_thread": False,
                                                      "timeout": lock_timeout_ms() / 1000})
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(url, pool_pre_ping=True,
                                   connect_args={"options": f"-c lock_timeout={lock_timeout_ms()}"})
        _ENGINES[url] = engine
    return engine


def dispose_engines() -> None:
    """Forget pooled connections without closing them (safe in a forked child)."""
    for engine in _ENGINES.values():
        engine.dispose(close=False)
    _ENGINES.clear()


# RQ forks a work horse per job: a child must never reuse the parent's sockets.
os.register_at_fork(after_in_child=dispose_engines)


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(get_engine(url), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
