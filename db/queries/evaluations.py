"""Evaluations: a saved model evaluated on a split of a dataset (the job's row), per version,
and the leaderboard of versions on one dataset and split."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlmodel import Session, col, select

from db.models import Evaluation, utcnow

__all__ = ["EVALUATION_STATUSES", "create_evaluation", "get_evaluation", "update_evaluation", "start_evaluation",
           "finish_evaluation", "evaluations_for_versions", "latest_evaluations_on", "delete_evaluation",
           "list_evaluations"]

EVALUATION_STATUSES = ("pending", "running", "completed", "failed", "cancelled")
FINISHED = ("completed", "failed", "cancelled")


def create_evaluation(*, session: Session, family: str, dataset_id: int, split: str,
                      model_version_id: int | None = None, checkpoint_id: int | None = None,
                      run_id: int | None = None, task: str | None = None,
                      options: Mapping[str, Any] | None = None) -> Evaluation:
    """A pending evaluation row (the job is enqueued after it exists)."""
    ev = Evaluation(family=family, dataset_id=dataset_id, split=split, model_version_id=model_version_id,
                    checkpoint_id=checkpoint_id, run_id=run_id, task=task, options=dict(options or {}))
    session.add(ev)
    session.flush()
    return ev


def get_evaluation(*, session: Session, evaluation_id: int) -> Evaluation | None:
    return session.get(Evaluation, evaluation_id)


def update_evaluation(*, session: Session, evaluation_id: int, **fields: Any) -> Evaluation:
    ev = session.get(Evaluation, evaluation_id)
    if ev is None:
        raise LookupError(f"no evaluation with id {evaluation_id}")
    for key, value in fields.items():
        setattr(ev, key, value)
    session.add(ev)
    session.flush()
    return ev


def start_evaluation(*, session: Session, evaluation_id: int, worker: str, out_dir: str) -> bool:
    """Pending → running (compare-and-set); False when it is not pending any more (cancelled)."""
    ev = session.get(Evaluation, evaluation_id, with_for_update=True)
    if ev is None or ev.status != "pending":
        return False
    ev.status, ev.worker, ev.out_dir, ev.started_at, ev.error = "running", worker, out_dir, utcnow(), None
    session.add(ev)
    return True


def finish_evaluation(*, session: Session, evaluation_id: int, status: str, error: str | None = None,
                      metrics: Mapping[str, Any] | None = None, tables: Mapping[str, Any] | None = None,
                      artifacts: Iterable[Mapping[str, Any]] = ()) -> Evaluation:
    """The end state, its results and how long it took (from ``started_at``)."""
    if status not in FINISHED:
        raise ValueError(f"unknown end state {status!r}; one of {', '.join(FINISHED)}")
    ev = session.get(Evaluation, evaluation_id)
    if ev is None:
        raise LookupError(f"no evaluation with id {evaluation_id}")
    now = utcnow()
    started = ev.started_at
    if started is not None and started.tzinfo is None:
        started = started.replace(tzinfo=now.tzinfo)
    ev.status, ev.error, ev.finished_at = status, error, now
    ev.duration_s = (now - started).total_seconds() if started is not None else None
    ev.metrics, ev.tables, ev.artifacts = dict(metrics or {}), dict(tables or {}), [dict(a) for a in artifacts]
    session.add(ev)
    session.flush()
    return ev


def evaluations_for_versions(*, session: Session, model_version_ids: Iterable[int]) -> dict[int, list[Evaluation]]:
    """Each version's evaluations, newest first."""
    ids = list(model_version_ids)
    out: dict[int, list[Evaluation]] = {i: [] for i in ids}
    if not ids:
        return out
    stmt = (select(Evaluation).where(col(Evaluation.model_version_id).in_(ids))
            .order_by(col(Evaluation.created_at).desc(), col(Evaluation.id).desc()))
    for ev in session.exec(stmt):
        out[ev.model_version_id].append(ev)
    return out


def latest_evaluations_on(*, session: Session, dataset_id: int, split: str,
                          model_version_ids: Iterable[int] | None = None,
                          family: str | None = None) -> dict[int, Evaluation]:
    """Per model version, its newest completed evaluation on ``dataset_id`` / ``split`` (the
    leaderboard's rows), optionally only for ``model_version_ids`` or one family."""
    stmt = select(Evaluation).where(Evaluation.dataset_id == dataset_id, Evaluation.split == split,
                                    Evaluation.status == "completed", col(Evaluation.model_version_id).is_not(None))
    if model_version_ids is not None:
        stmt = stmt.where(col(Evaluation.model_version_id).in_(list(model_version_ids)))
    if family is not None:
        stmt = stmt.where(Evaluation.family == family)
    out: dict[int, Evaluation] = {}
    for ev in session.exec(stmt.order_by(col(Evaluation.id))):
        out[ev.model_version_id] = ev  # later ids replace earlier ones
    return out


def list_evaluations(*, session: Session, family: str | None = None, limit: int = 200) -> list[Evaluation]:
    stmt = select(Evaluation)
    if family is not None:
        stmt = stmt.where(Evaluation.family == family)
    return list(session.exec(stmt.order_by(col(Evaluation.id).desc()).limit(limit)))


def delete_evaluation(*, session: Session, evaluation_id: int) -> None:
    """Remove an evaluation whose job never got queued."""
    ev = session.get(Evaluation, evaluation_id)
    if ev is not None:
        session.delete(ev)
