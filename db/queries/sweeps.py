"""Sweeps: an Optuna study whose trials are ordinary runs."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from db.models import Run, Sweep

__all__ = ["create_sweep", "get_sweep", "list_sweeps", "update_sweep", "sweep_runs"]


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


def update_sweep(*, session: Session, sweep_id: int, **fields: Any) -> None:
    session.exec(update(Sweep).where(Sweep.id == sweep_id).values(**fields))


def sweep_runs(*, session: Session, sweep_id: int) -> list[Run]:
    """A sweep's trials, in trial order."""
    return list(session.exec(select(Run).where(Run.sweep_id == sweep_id)
                             .order_by(col(Run.trial_number).asc(), col(Run.id).asc())))
