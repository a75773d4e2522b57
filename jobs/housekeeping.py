"""A run's notes (description and tags) and its deletion.

Deleting removes the run's row, metrics, checkpoints, resource samples, recorded files and
manifests, its model versions, and its folder; it is refused while the run is active or while one
of its model versions is the active one, and every deletion writes an audit line (Models page,
*Audit trail*). Only a folder under the artifacts folder is removed: Trainyard never deletes what
it did not write."""
from __future__ import annotations

import logging
import shutil
from collections.abc import Iterable
from pathlib import Path

from db import queries
from db.models import ModelStatus
from db.session import session_scope
from engine.safeio import is_within
from settings import get_settings

log = logging.getLogger("trainyard.housekeeping")

__all__ = ["MAX_TAGS", "MAX_TAG_CHARS", "MAX_DESCRIPTION_CHARS", "normalize_tags", "normalize_description", "set_notes",
           "deletion_blockers", "delete_run", "RunNotDeletable"]

MAX_TAGS = 20
MAX_TAG_CHARS = 40
MAX_DESCRIPTION_CHARS = 10_000


class RunNotDeletable(ValueError):
    """The run may not be deleted now; the message says why."""


def normalize_tags(raw: str | Iterable[str] | None) -> list[str]:
    """Tags from a comma-separated string or a list: trimmed, empty ones dropped, duplicates
    (any case) once, in the order given; ``ValueError`` naming the tag that is too long, holds a
    comma, or one too many."""
    items = raw.split(",") if isinstance(raw, str) else list(raw or [])
    tags: list[str] = []
    for item in items:
        tag = " ".join(str(item).split())
        if not tag:
            continue
        if "," in tag:
            raise ValueError(f"tag {tag!r}: a tag cannot hold a comma (commas separate tags)")
        if len(tag) > MAX_TAG_CHARS:
            raise ValueError(f"tag {tag[:MAX_TAG_CHARS]!r}…: {len(tag)} characters, at most {MAX_TAG_CHARS}")
        if tag.lower() not in {t.lower() for t in tags}:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise ValueError(f"tags: {len(tags)} given, at most {MAX_TAGS}")
    return tags


def normalize_description(text: str | None) -> str:
    text = (text or "").strip()
    if len(text) > MAX_DESCRIPTION_CHARS:
        raise ValueError(f"description: {len(text):,} characters, at most {MAX_DESCRIPTION_CHARS:,}")
    return text


def set_notes(run_id: int, *, description: str | None, tags: str | Iterable[str] | None) -> tuple[str, list[str]]:
    """Replace a run's description and tags (any time, whatever its state); returns what was stored."""
    desc, clean = normalize_description(description), normalize_tags(tags)
    with session_scope() as s:
        if queries.get_run(session=s, run_id=run_id) is None:
            raise LookupError(f"no run with id {run_id}")
        queries.set_run_notes(session=s, run_id=run_id, description=desc, tags=clean)
    return desc, clean


def _blockers(session, run_id: int) -> list[str]:
    run = queries.get_run(session=session, run_id=run_id)
    if run is None:
        return [f"no run with id {run_id}"]
    reasons = []
    if run.status.active:
        reasons.append(f"run #{run_id} is {run.status.value}: cancel it and wait until it stops")
    for v in queries.model_versions_for_runs(session=session, run_ids=[run_id]):
        if v.status == ModelStatus.active.value:
            reasons.append(f"its model #{v.id} is the active {v.family} model of scope {v.scope or '—'}: "
                           f"activate another one or archive it first (Models page)")
    return reasons


def deletion_blockers(run_id: int) -> list[str]:
    """Why the run cannot be deleted now ([] when it can)."""
    with session_scope() as s:
        return _blockers(s, run_id)


def _removable(out_dir: str | None) -> Path | None:
    if not out_dir:
        return None
    path = Path(out_dir).resolve()
    root = get_settings().resolved_artifacts_dir
    return path if is_within(path, root) and path != root else None


def delete_run(run_id: int, *, actor: str | None = None) -> dict[str, int]:
    """Delete the run and everything that belongs to it (``RunNotDeletable`` says why not);
    returns the counts of what went, files included."""
    with session_scope() as s:  # checked in the transaction that deletes
        blockers = _blockers(s, run_id)
        if blockers:
            raise RunNotDeletable("; ".join(blockers))
        run = queries.get_run(session=s, run_id=run_id)
        folder = _removable(run.out_dir)
        files = sum(1 for p in folder.rglob("*") if p.is_file()) if folder and folder.is_dir() else 0
        counts = queries.purge_run(session=s, run_id=run_id)
        counts["files"] = files if folder else 0
        kept = f"; its folder {run.out_dir} is outside the artifacts folder and was kept" if run.out_dir and not folder else ""
        queries.add_audit_line(session=s, family=run.family, task=run.task, action="delete-run", actor=actor,
                               reason=f"run #{run.id} {run.name!r} ({run.status.value}) deleted: "
                                      + ", ".join(f"{n} {what}" for what, n in counts.items()) + kept)
    if folder is not None and folder.is_dir():
        shutil.rmtree(folder, ignore_errors=True)
    log.warning("run %s deleted by %s: %s", run_id, actor or "?", counts)
    return counts
