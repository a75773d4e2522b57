"""Artifacts: the files a run wrote, each with the size and sha256 recorded when it ended."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import delete
from sqlmodel import Session, select

from db.models import Artifact, utcnow

__all__ = ["replace_artifacts", "list_artifacts", "get_artifact"]


def replace_artifacts(*, session: Session, run_id: int, files: Iterable[Mapping[str, Any]]) -> int:
    """Make ``files`` (``path``, ``size``, ``sha256``, ``kind``) the run's record of its folder,
    replacing what an earlier attempt recorded; returns how many there are."""
    session.exec(delete(Artifact).where(Artifact.run_id == run_id))
    now = utcnow()
    rows = [Artifact(run_id=run_id, path=f["path"], size=int(f["size"]), sha256=f["sha256"],
                     kind=f.get("kind", "other"), recorded_at=now) for f in files]
    session.add_all(rows)
    session.flush()
    return len(rows)


def list_artifacts(*, session: Session, run_id: int) -> list[Artifact]:
    return list(session.exec(select(Artifact).where(Artifact.run_id == run_id).order_by(Artifact.path)))


def get_artifact(*, session: Session, run_id: int, path: str) -> Artifact | None:
    return session.exec(select(Artifact).where(Artifact.run_id == run_id, Artifact.path == path)).first()
