"""Checkpoints: the files runs save, each with the sha256 that gates loading it."""
from __future__ import annotations

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from db.models import Checkpoint

__all__ = ["add_checkpoint", "list_checkpoints", "checkpoints_per_file", "latest_checkpoint",
           "checkpoints_newest_first", "checkpoints_at_path", "checkpoint_by_path", "best_monitored",
           "get_checkpoint"]


def add_checkpoint(*, session: Session, run_id: int, step: int, path: str, sha256: str,
                   monitored: float | None = None, best: bool = False) -> Checkpoint:
    if best:
        session.exec(update(Checkpoint).where(Checkpoint.run_id == run_id).values(best=False))
    ckpt = Checkpoint(run_id=run_id, step=step, path=path, sha256=sha256, monitored=monitored, best=best)
    session.add(ckpt)
    session.flush()
    return ckpt


def list_checkpoints(*, session: Session, run_id: int) -> list[Checkpoint]:
    stmt = select(Checkpoint).where(Checkpoint.run_id == run_id).order_by(Checkpoint.step, Checkpoint.id)
    return list(session.exec(stmt))


def checkpoints_per_file(*, session: Session, run_id: int) -> list[Checkpoint]:
    """One row per checkpoint file of a run: the newest row written for each path (older rows
    describe bytes that a later save overwrote), in step order."""
    newest = select(func.max(Checkpoint.id)).where(Checkpoint.run_id == run_id).group_by(Checkpoint.path)
    stmt = select(Checkpoint).where(col(Checkpoint.id).in_(newest)).order_by(Checkpoint.step, Checkpoint.id)
    return list(session.exec(stmt))


def latest_checkpoint(*, session: Session, run_id: int) -> Checkpoint | None:
    stmt = (select(Checkpoint).where(Checkpoint.run_id == run_id)
            .order_by(col(Checkpoint.step).desc(), col(Checkpoint.id).desc()))
    return session.exec(stmt).first()


def checkpoints_newest_first(*, session: Session, run_id: int) -> list[Checkpoint]:
    """A run's checkpoints, the latest step first (resume tries them in this order)."""
    stmt = (select(Checkpoint).where(Checkpoint.run_id == run_id)
            .order_by(col(Checkpoint.step).desc(), col(Checkpoint.id).desc()))
    return list(session.exec(stmt))


def checkpoints_at_path(*, session: Session, run_id: int, path: str) -> list[Checkpoint]:
    """The run's checkpoint rows registered for the file ``path``, newest first."""
    stmt = (select(Checkpoint).where(Checkpoint.run_id == run_id, Checkpoint.path == path)
            .order_by(col(Checkpoint.id).desc()))
    return list(session.exec(stmt))


def checkpoint_by_path(*, session: Session, path: str) -> Checkpoint | None:
    """The newest checkpoint row recorded for the file at ``path`` (its sha256 gates loading)."""
    stmt = select(Checkpoint).where(Checkpoint.path == path).order_by(col(Checkpoint.id).desc())
    return session.exec(stmt).first()


def best_monitored(*, session: Session, run_id: int) -> float | None:
    stmt = select(func.min(Checkpoint.monitored)).where(Checkpoint.run_id == run_id)
    return session.exec(stmt).first()


def get_checkpoint(*, session: Session, checkpoint_id: int) -> Checkpoint | None:
    return session.get(Checkpoint, checkpoint_id)
