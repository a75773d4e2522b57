"""Sweeps: an Optuna study whose trials are ordinary runs."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, or_, update
from sqlmodel import Session, col, select

from db.models import Dataset, Run, Sweep
from db.queries.search import contains, id_or_date, page

__all__ = ["create_sweep", "get_sweep", "list_sweeps", "search_sweeps", "update_sweep", "sweep_runs"]


def create_sweep(*, session: Session, name: str, family: str, space: Mapping[str, Any], method: str,
                 metric: str, direction: str, max_trials: int, parallel: int, pruner: str,
                 dataset_id: int | None = None, priority: str = "default", kind: str = "search") -> Sweep:
    sweep = Sweep(name=name, family=family, space=dict(space), method=method, metric=metric, direction=direction,
                  max_trials=max_trials, parallel=parallel, pruner=pruner, dataset_id=dataset_id, priority=priority,
                  kind=kind)
    session.add(sweep)
    session.flush()
    sweep.study_name = f"trainyard-sweep-{sweep.id}" if kind == "search" else ""
    if not sweep.name:
        sweep.name = f"{family} {'sweep' if kind == 'search' else 'learning curve'} {sweep.id}"
    return sweep


def get_sweep(*, session: Session, sweep_id: int) -> Sweep | None:
    return session.get(Sweep, sweep_id)


def list_sweeps(*, session: Session, family: str | None = None, limit: int = 200, kind: str | None = None,
                dataset_id: int | None = None) -> list[Sweep]:
    """Sweeps newest first (of one ``family``, ``kind`` — "search" or "curve" — and dataset when
    given), at most ``limit`` of them."""
    stmt = select(Sweep).order_by(col(Sweep.id).desc()).limit(limit)
    if family:
        stmt = stmt.where(Sweep.family == family)
    if kind:
        stmt = stmt.where(Sweep.kind == kind)
    if dataset_id is not None:
        stmt = stmt.where(Sweep.dataset_id == dataset_id)
    return list(session.exec(stmt))


def _sweep_term(term: str):
    """One search word: a sweep id (``7`` or ``#7``), its family, status, metric, a date
    (``2026-12-03`` or ``2026-12``, UTC), or text in its name or its dataset's name."""
    lowered = term.lower()
    needle = contains(term)
    conds = [func.lower(Sweep.family) == lowered, func.lower(Sweep.status) == lowered,
             func.lower(Sweep.metric) == lowered, func.lower(Sweep.name).like(needle, escape="\\"),
             col(Sweep.dataset_id).in_(select(Dataset.id).where(func.lower(Dataset.name).like(needle, escape="\\"))),
             *id_or_date(term, Sweep.id, Sweep.created_at)]
    return or_(*conds)


def sweep_conditions(query: str) -> list:
    """The conditions a sweep must meet to match ``query``: every word (``_sweep_term``)."""
    return [_sweep_term(t) for t in (query or "").split()]


def search_sweeps(*, session: Session, query: str = "", kind: str | None = None, family: str | None = None,
                  offset: int = 0, limit: int = 20) -> tuple[list[Sweep], int]:
    """One page of sweeps (of ``kind``: "search" or "curve"), newest first, and how many match:
    every word of ``query`` must match (``_sweep_term``). The database filters, counts and pages."""
    conds = sweep_conditions(query)
    if kind:
        conds.append(Sweep.kind == kind)
    if family:
        conds.append(Sweep.family == family)
    return page(session, Sweep, conds, [col(Sweep.id).desc()], offset=offset, limit=limit)


def update_sweep(*, session: Session, sweep_id: int, **fields: Any) -> None:
    session.exec(update(Sweep).where(Sweep.id == sweep_id).values(**fields))


def sweep_runs(*, session: Session, sweep_id: int) -> list[Run]:
    """A sweep's trials, in trial order."""
    return list(session.exec(select(Run).where(Run.sweep_id == sweep_id)
                             .order_by(col(Run.trial_number).asc(), col(Run.id).asc())))
