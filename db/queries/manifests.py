"""Run manifests: what produced each attempt of a run (code, packages, data, machine)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete
from sqlmodel import Session, col, select

from db.models import RunManifest

__all__ = ["save_manifest", "latest_manifest", "run_manifests"]


def save_manifest(*, session: Session, run_id: int, attempt: int, data: Mapping[str, Any]) -> RunManifest:
    """Store the manifest of one attempt (a second save for the same attempt replaces it)."""
    session.exec(delete(RunManifest).where(RunManifest.run_id == run_id, RunManifest.attempt == attempt))
    row = RunManifest(run_id=run_id, attempt=attempt, data=dict(data))
    session.add(row)
    session.flush()
    return row


def latest_manifest(*, session: Session, run_id: int) -> RunManifest | None:
    stmt = select(RunManifest).where(RunManifest.run_id == run_id).order_by(col(RunManifest.attempt).desc(),
                                                                            col(RunManifest.id).desc())
    return session.exec(stmt.limit(1)).first()


def run_manifests(*, session: Session, run_id: int) -> list[RunManifest]:
    return list(session.exec(select(RunManifest).where(RunManifest.run_id == run_id).order_by(RunManifest.attempt)))
