"""Stalled runs: a training run whose trainer reports nothing (no progress, no metric) for
``TRAINYARD_STALL_MINUTES`` while its work horse still heartbeats is marked ``stalled_at`` and
announced once; its next report clears the mark. Checked by every reaper pass (each worker and
the launcher); a run whose heartbeat stops is the reaper's, not this module's."""
from __future__ import annotations

import logging
from datetime import timedelta

from db import queries
from db.models import utcnow
from db.session import session_scope
from jobs import notify
from settings import get_settings

log = logging.getLogger("trainyard.stalls")

__all__ = ["mark_stalled_runs", "HEARTBEAT_FRESH_S"]

HEARTBEAT_FRESH_S = 20.0  # the horse's resource sampler beats every few seconds


def mark_stalled_runs(*, minutes: float | None = None) -> list[int]:
    """Mark and announce runs that stalled since the last pass; returns their ids."""
    minutes = get_settings().stall_minutes if minutes is None else minutes
    if not minutes:
        return []
    now = utcnow()
    with session_scope() as s:
        candidates = queries.stall_candidates(session=s, progress_before=now - timedelta(minutes=minutes),
                                              heartbeat_after=now - timedelta(seconds=HEARTBEAT_FRESH_S))
    marked = []
    for run in candidates:
        with session_scope() as s:
            if not queries.mark_stalled(session=s, run_id=run.id, attempt=run.attempt):
                continue
        log.warning("run %s stalled: no progress for %g min while its worker %s heartbeats", run.id, minutes,
                    run.worker)
        notify.run_stalled(run, minutes)
        marked.append(run.id)
    return marked
