"""Retry a database write that lost a race for a lock: bounded, with backoff, logged.

A long training must not die because the dashboard, a migration or another worker held the
database for a while: SQLite answers "database is locked" after its busy timeout, PostgreSQL
raises serialization failures, deadlocks and lock timeouts. Those are transient; anything else
(a constraint, a bad statement, a lost server) is raised at once.
"""
from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError

__all__ = ["is_transient", "retry_transient"]

T = TypeVar("T")
log = logging.getLogger("trainyard.db")

# PostgreSQL SQLSTATEs worth another try: serialization_failure, deadlock_detected, lock_not_available
PG_TRANSIENT = {"40001", "40P01", "55P03"}
SQLITE_TRANSIENT = ("database is locked", "database table is locked", "database is busy")
FIRST_DELAY_S = 0.05
MAX_DELAY_S = 5.0


def is_transient(exc: BaseException) -> bool:
    """True for lock, deadlock and serialization errors that succeed when tried again."""
    if not isinstance(exc, DBAPIError):
        return False
    orig = exc.orig
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if code in PG_TRANSIENT:
        return True
    text = str(orig).lower()
    return any(marker in text for marker in SQLITE_TRANSIENT)


def retry_transient(fn: Callable[[], T], *, what: str, deadline_s: float | None = None) -> T:
    """Call ``fn`` (one whole transaction) until it succeeds, retrying transient errors with
    exponential backoff and jitter for up to ``deadline_s`` seconds (default: the
    ``TRAINYARD_DB_RETRY_S`` setting); then the last error is raised."""
    if deadline_s is None:
        from settings import get_settings

        deadline_s = get_settings().db_retry_s
    give_up = time.monotonic() + deadline_s
    delay, attempt = FIRST_DELAY_S, 1
    while True:
        try:
            return fn()
        except DBAPIError as exc:
            left = give_up - time.monotonic()
            if not is_transient(exc) or left <= 0:
                raise
            wait = min(delay * (1 + random.random()), MAX_DELAY_S, left)
            reason = str(exc.orig).strip() or type(exc.orig).__name__
            log.warning("%s: %s (attempt %d); retrying in %.2f s", what, reason, attempt, wait)
            time.sleep(wait)
            delay, attempt = min(delay * 2, MAX_DELAY_S), attempt + 1
