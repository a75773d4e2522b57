"""What every benchmark shares: a fresh installation, interleaved best-of timing, one report line.

Each benchmark times Trainyard's way and its baseline alternately (``interleaved``) and keeps the
minimum of each, so a noisy neighbour on the machine slows both rather than one.
"""
from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

FULL = os.environ.get("BENCH_FULL", "") not in ("", "0")
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))


def size(quick: int, full: int) -> int:
    """``quick`` by default, ``full`` with ``BENCH_FULL=1`` (or ``python -m bench --full``)."""
    return full if FULL else quick


@contextmanager
def installation(database_url: str | None = None) -> Iterator[str]:
    """A temporary Trainyard home, migrated; SQLite unless ``database_url`` is given. Yields the URL."""
    from db.session import dispose_engines
    from settings import get_settings

    with tempfile.TemporaryDirectory() as home:
        saved = dict(os.environ)
        os.environ["TRAINYARD_HOME"] = home
        os.environ.pop("DATABASE_URL", None)
        if database_url:
            os.environ["DATABASE_URL"] = database_url
        get_settings.cache_clear()
        dispose_engines()
        from db.migrate import upgrade

        upgrade()
        try:
            yield get_settings().resolved_database_url
        finally:
            dispose_engines()
            os.environ.clear()
            os.environ.update(saved)
            get_settings.cache_clear()


@contextmanager
def postgres() -> Iterator[str | None]:
    """A fresh database on the local PostgreSQL server (``BENCH_POSTGRES_URL``, default the test
    server), dropped afterwards; yields None when no server answers."""
    admin = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    try:
        import psycopg

        with psycopg.connect(admin, connect_timeout=2):
            pass
    except Exception:
        yield None
        return
    from tests.conftest import create_postgres_database

    url, drop = create_postgres_database(admin)
    try:
        yield url
    finally:
        drop()


def interleaved(fns: dict[str, Callable[[], object]], repeats: int = REPEATS,
                before: Callable[[], object] | None = None) -> dict[str, float]:
    """Run each function ``repeats`` times, alternating between them; the minimum seconds of each."""
    best = {name: float("inf") for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            if before is not None:
                before()
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


def line(measure: str, baseline: str, base_s: float, ours_s: float, bar: str, ok: bool) -> str:
    """One row of the report: both times, the ratio against the baseline and whether the bar holds."""
    return (f"{measure}: baseline ({baseline}) {base_s * 1000:.0f} ms · Trainyard {ours_s * 1000:.0f} ms · "
            f"ratio {ours_s / base_s:.2f}× · bar {bar}: {'met' if ok else 'NOT met'}")


def settle(pid: int, *, timeout: float = 300.0) -> None:
    """Wait until every warm training interpreter (``python -m jobs.child --warm``) under process
    ``pid`` has done its warm-up: it names itself ``jobs.child.WARM_NAME`` then, right before it
    waits on its socket (however long its imports took, whatever they were)."""
    import psutil

    from jobs.child import WARM_NAME

    def warming() -> int:
        left = 0
        for proc in psutil.Process(pid).children(recursive=True):
            try:
                if "--warm" in proc.cmdline() and "jobs.child" in proc.cmdline() and proc.name() != WARM_NAME:
                    left += 1
            except psutil.Error:
                pass
        return left

    deadline = time.monotonic() + timeout
    while warming() and time.monotonic() < deadline:
        time.sleep(0.1)
