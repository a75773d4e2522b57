"""Run attempts: one execution of a run at a time.

Every execution has a number (``Run.attempt``); writes from an execution are compare-and-sets on
that number and the run's status, so a stale worker never overwrites a run that moved on."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from db.models import Run, RunStatus
from db.queries.runs import status_values

__all__ = ["ACTIVE", "UNFINISHED", "bump_attempt", "update_if_current", "set_status_if_current", "attempt_state"]


ACTIVE = (RunStatus.preparing, RunStatus.training)
UNFINISHED = (RunStatus.pending, RunStatus.preparing, RunStatus.training)


def bump_attempt(*, session: Session, run_id: int, **fields: Any) -> int:
    """Start a new execution of the run and return its number; whoever holds an older one is stale."""
    session.exec(update(Run).where(Run.id == run_id).values(attempt=Run.attempt + 1, **fields))
    return int(session.exec(select(Run.attempt).where(Run.id == run_id)).one())


def update_if_current(*, session: Session, run_id: int, attempt: int,
                      statuses: Iterable[RunStatus] = ACTIVE, **fields: Any) -> bool:
    """Set columns only while ``attempt`` is the run's execution and its status is one of
    ``statuses``; False (nothing written) when the attempt is stale."""
    result = session.exec(update(Run).where(Run.id == run_id, Run.attempt == attempt,
                                            col(Run.status).in_(list(statuses))).values(**fields))
    return result.rowcount == 1


def set_status_if_current(*, session: Session, run_id: int, attempt: int, status: RunStatus,
                          statuses: Iterable[RunStatus] = ACTIVE, **fields: Any) -> bool:
    """``set_run_status`` guarded like ``update_if_current``: a compare-and-set on attempt and status."""
    return update_if_current(session=session, run_id=run_id, attempt=attempt, statuses=statuses,
                             **status_values(status, **fields))


def attempt_state(*, session: Session, run_id: int) -> tuple[int, RunStatus, bool] | None:
    """``(attempt, status, cancel_requested)`` of a run, read in one query (the worker polls it)."""
    row = session.exec(select(Run.attempt, Run.status, Run.cancel_requested).where(Run.id == run_id)).first()
    return (int(row[0]), RunStatus(row[1]), bool(row[2])) if row else None
