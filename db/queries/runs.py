"""Runs: create, read, list and update training runs."""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, cast, delete, func, or_, update
from sqlmodel import Session, col, select

from db.models import (
    FINISHED,
    Artifact,
    Checkpoint,
    Dataset,
    Evaluation,
    Metric,
    MetricBucket,
    MetricSummary,
    ModelEvent,
    ModelVersion,
    ResourceSample,
    Run,
    RunManifest,
    RunStatus,
    ShareLink,
    Sweep,
    utcnow,
)
from db.queries.search import contains, id_or_date, like_escaped, page
from db.queries.sweeps import sweep_conditions

__all__ = ["create_run", "get_run", "list_runs", "count_runs_by_status", "update_run", "status_values",
           "set_run_status", "request_cancel", "cancel_requested", "stale_runs", "runs_in_status", "requeue_candidates",
           "delete_run", "find_runs", "set_run_notes", "run_tags", "purge_run",
           "stall_candidates", "mark_stalled", "runs_started_from", "search_runs"]


def create_run(*, session: Session, family: str, config: Mapping[str, Any], dataset_id: int | None = None,
               name: str = "", task: str | None = None, priority: str = "default",
               parent_id: int | None = None, sweep_id: int | None = None, trial_number: int | None = None,
               description: str = "", tags: Iterable[str] = (), cloned_from: int | None = None,
               parent_version_id: int | None = None) -> Run:
    """A pending run (named ``<family>-<id>`` unless ``name``); ``sweep_id`` and ``trial_number``
    make it a sweep's trial, ``cloned_from`` names the run it was cloned from, ``parent_version_id``
    the model version it starts from."""
    run = Run(family=family, config=dict(config), dataset_id=dataset_id, name=name, task=task,
              priority=priority, parent_id=parent_id, sweep_id=sweep_id, trial_number=trial_number,
              description=description or "", tags=list(tags), cloned_from=cloned_from,
              parent_version_id=parent_version_id)
    session.add(run)
    session.flush()
    if not run.name:
        run.name = f"{family}-{run.id}"
    return run


def get_run(*, session: Session, run_id: int) -> Run | None:
    return session.get(Run, run_id)


def list_runs(*, session: Session, statuses: Iterable[RunStatus | str] | None = None,
              family: str | None = None, text: str | None = None, tags: Iterable[str] | None = None,
              limit: int = 200) -> list[Run]:
    """Runs newest first; ``text`` matches name, description or a tag (any case), ``tags``
    keeps runs that carry every one of them."""
    stmt = select(Run).order_by(col(Run.id).desc()).limit(limit)
    if statuses:
        stmt = stmt.where(col(Run.status).in_([RunStatus(s) for s in statuses]))
    if family:
        stmt = stmt.where(Run.family == family)
    return _with_tags(session, _matching(stmt, text, tags), tags)


def _matching(stmt, text: str | None, tags: Iterable[str] | None):
    """Narrow ``stmt`` in SQL: the JSON text of ``tags`` holds each wanted tag as a quoted string."""
    if text and text.strip():
        needle = contains(text.strip())
        stmt = stmt.where(or_(func.lower(Run.name).like(needle, escape="\\"),
                              func.lower(Run.description).like(needle, escape="\\"),
                              func.lower(cast(Run.tags, String)).like(needle, escape="\\")))
    for tag in tags or ():
        stmt = stmt.where(cast(Run.tags, String).like(f"%{like_escaped(json.dumps(tag))}%", escape="\\"))
    return stmt


def _with_tags(session: Session, stmt, tags: Iterable[str] | None) -> list[Run]:
    wanted = set(tags or ())
    return [r for r in session.exec(stmt) if wanted <= set(r.tags or ())]


def _term(term: str):
    """One search word as a condition: a run id (``12`` or ``#12``), a family or status, a date
    (``2026-12-03`` or ``2026-12``: created that day or month, UTC), or text in the name,
    description, tags or dataset name."""
    conds = id_or_date(term, Run.id, Run.created_at)
    lowered = term.lower()
    if lowered in {x.value for x in RunStatus}:
        conds.append(Run.status == RunStatus(lowered))
    conds.append(func.lower(Run.family) == lowered)
    needle = contains(term)
    conds += [func.lower(Run.name).like(needle, escape="\\"), func.lower(Run.description).like(needle, escape="\\"),
              func.lower(cast(Run.tags, String)).like(needle, escape="\\"),
              col(Run.dataset_id).in_(select(Dataset.id).where(func.lower(Dataset.name).like(needle, escape="\\")))]
    return or_(*conds)


def search_runs(*, session: Session, query: str = "", statuses: Iterable[RunStatus | str] | None = None,
                family: str | None = None, tags: Iterable[str] | None = None, dataset_id: int | None = None,
                sweep_id: int | None = None, sweep_query: str = "", since: datetime | None = None, offset: int = 0,
                limit: int = 20) -> tuple[list[Run], int]:
    """One page of runs, newest first, and how many match in all: every word of ``query`` must
    match (``_term``: id, name, description, tag, family, status, dataset, date), and, with
    ``sweep_query``, the run must be a trial of a sweep that matches it (``search_sweeps``' words).
    The database filters, counts and pages, so a list of ten thousand runs costs one page's rows."""
    conds = [_term(t) for t in (query or "").split()]
    if statuses:
        conds.append(col(Run.status).in_([RunStatus(x) for x in statuses]))
    if family:
        conds.append(Run.family == family)
    if dataset_id is not None:
        conds.append(Run.dataset_id == dataset_id)
    if sweep_id is not None:
        conds.append(Run.sweep_id == sweep_id)
    if sweep_query.strip():
        conds.append(col(Run.sweep_id).in_(select(Sweep.id).where(*sweep_conditions(sweep_query))))
    if since is not None:
        conds.append(col(Run.created_at) >= since)
    for tag in tags or ():
        conds.append(cast(Run.tags, String).like(f"%{like_escaped(json.dumps(tag))}%", escape="\\"))
    return page(session, Run, conds, [col(Run.id).desc()], offset=offset, limit=limit)


def count_runs_by_status(*, session: Session) -> dict[str, int]:
    rows = session.exec(select(Run.status, func.count()).group_by(Run.status))
    return {RunStatus(status).value: n for status, n in rows}


def update_run(*, session: Session, run_id: int, **fields: Any) -> None:
    """Set columns of one run without loading it (progress and heartbeats are hot paths)."""
    session.exec(update(Run).where(Run.id == run_id).values(**fields))


def status_values(status: RunStatus, **fields: Any) -> dict[str, Any]:
    """The columns a move to ``status`` writes: the status, a heartbeat, ``started_at`` on
    entering ``preparing`` and ``finished_at`` on reaching an end state (unless ``fields`` set them)."""
    now = utcnow()
    values: dict[str, Any] = {"status": status, "heartbeat_at": now, **fields}
    if status in FINISHED:
        values.setdefault("finished_at", now)
    if status == RunStatus.preparing:
        values.setdefault("started_at", now)
    return values


def set_run_status(*, session: Session, run_id: int, status: RunStatus, **fields: Any) -> None:
    update_run(session=session, run_id=run_id, **status_values(status, **fields))


def request_cancel(*, session: Session, run_id: int) -> None:
    update_run(session=session, run_id=run_id, cancel_requested=True)


def cancel_requested(*, session: Session, run_id: int) -> bool:
    return bool(session.exec(select(Run.cancel_requested).where(Run.id == run_id)).first())


def stale_runs(*, session: Session, older_than_s: float) -> list[Run]:
    """Active runs whose worker has not reported for ``older_than_s`` seconds."""
    cutoff = utcnow() - timedelta(seconds=older_than_s)
    stmt = select(Run).where(col(Run.status).in_([RunStatus.preparing, RunStatus.training]),
                             col(Run.heartbeat_at) < cutoff)
    return list(session.exec(stmt))


def runs_in_status(*, session: Session, statuses: Iterable[RunStatus]) -> list[Run]:
    return list(session.exec(select(Run).where(col(Run.status).in_(list(statuses))).order_by(Run.id)))


def requeue_candidates(*, session: Session, older_than_s: float) -> list[Run]:
    """Pending runs that were enqueued (have a job id) at least ``older_than_s`` seconds ago."""
    cutoff = utcnow() - timedelta(seconds=older_than_s)
    stmt = select(Run).where(Run.status == RunStatus.pending, col(Run.job_id).is_not(None),
                             func.coalesce(Run.heartbeat_at, Run.created_at) < cutoff).order_by(Run.id)
    return list(session.exec(stmt))


def delete_run(*, session: Session, run_id: int) -> None:
    """Remove a run that never started (its enqueue failed): nothing else refers to it yet."""
    session.exec(delete(Run).where(Run.id == run_id))


def find_runs(*, session: Session, family: str | None = None, dataset_id: int | None = None,
              statuses: Iterable[RunStatus | str] | None = None, sweep_id: int | None = None,
              since: datetime | None = None, until: datetime | None = None,
              run_ids: Iterable[int] | None = None, text: str | None = None, tags: Iterable[str] | None = None,
              limit: int = 500) -> list[Run]:
    """Runs matching every given filter, newest first (``text`` and ``tags`` as in ``list_runs``)."""
    stmt = select(Run).order_by(col(Run.id).desc()).limit(limit)
    if family:
        stmt = stmt.where(Run.family == family)
    if dataset_id is not None:
        stmt = stmt.where(Run.dataset_id == dataset_id)
    if statuses:
        stmt = stmt.where(col(Run.status).in_([RunStatus(x) for x in statuses]))
    if sweep_id is not None:
        stmt = stmt.where(Run.sweep_id == sweep_id)
    if since is not None:
        stmt = stmt.where(col(Run.created_at) >= since)
    if until is not None:
        stmt = stmt.where(col(Run.created_at) < until)
    if run_ids is not None:
        stmt = stmt.where(col(Run.id).in_(list(run_ids)))
    return _with_tags(session, _matching(stmt, text, tags), tags)


def set_run_notes(*, session: Session, run_id: int, description: str, tags: Iterable[str]) -> None:
    update_run(session=session, run_id=run_id, description=description, tags=list(tags))


def run_tags(*, session: Session) -> list[str]:
    """Every tag some run carries, sorted: the database hands back each distinct tag list once
    (a few dozen rows, not one a run)."""
    found: set[str] = set()
    for text in session.exec(select(cast(Run.tags, String)).distinct()):
        found.update((json.loads(text) if text else None) or ())
    return sorted(found)


def purge_run(*, session: Session, run_id: int) -> dict[str, int]:
    """Delete a run and everything that belongs to it (metrics, checkpoints, resources,
    artifacts, manifests, its model versions); runs retried or cloned from it and audit lines or
    share links naming its versions keep their rows with the reference cleared. The caller
    checks that the run may go (not active, no active model). Returns what was deleted."""
    versions = [v.id for v in session.exec(select(ModelVersion).where(ModelVersion.run_id == run_id))]
    session.exec(delete(MetricSummary).where(MetricSummary.run_id == run_id))
    session.exec(delete(MetricBucket).where(MetricBucket.run_id == run_id))
    counts = {"metrics": session.exec(delete(Metric).where(Metric.run_id == run_id)).rowcount,
              "checkpoints": session.exec(delete(Checkpoint).where(Checkpoint.run_id == run_id)).rowcount,
              "resource samples": session.exec(delete(ResourceSample).where(ResourceSample.run_id == run_id)).rowcount,
              "artifacts": session.exec(delete(Artifact).where(Artifact.run_id == run_id)).rowcount,
              "manifests": session.exec(delete(RunManifest).where(RunManifest.run_id == run_id)).rowcount}
    counts["evaluations"] = session.exec(delete(Evaluation).where(
        or_(Evaluation.run_id == run_id, col(Evaluation.model_version_id).in_(versions or [-1])))).rowcount
    if versions:
        session.exec(update(ModelEvent).where(col(ModelEvent.model_version_id).in_(versions))
                     .values(model_version_id=None))
        session.exec(update(ModelEvent).where(col(ModelEvent.replaced_id).in_(versions)).values(replaced_id=None))
        session.exec(update(ShareLink).where(col(ShareLink.model_version_id).in_(versions))
                     .values(model_version_id=None))
        session.exec(delete(ModelVersion).where(col(ModelVersion.id).in_(versions)))
    counts["model versions"] = len(versions)
    session.exec(update(Run).where(Run.parent_id == run_id).values(parent_id=None))
    session.exec(update(Run).where(Run.cloned_from == run_id).values(cloned_from=None))
    session.exec(delete(Run).where(Run.id == run_id))
    return counts


def stall_candidates(*, session: Session, progress_before: datetime, heartbeat_after: datetime) -> list[Run]:
    """Training runs not yet marked stalled whose last progress (or start) is older than
    ``progress_before`` while their heartbeat is newer than ``heartbeat_after``."""
    stmt = select(Run).where(Run.status == RunStatus.training, col(Run.stalled_at).is_(None),
                             col(Run.heartbeat_at) >= heartbeat_after,
                             func.coalesce(Run.progress_at, Run.started_at) < progress_before)
    return list(session.exec(stmt))


def mark_stalled(*, session: Session, run_id: int, attempt: int) -> bool:
    """Set ``stalled_at`` once per stall (compare-and-set: only one process announces it)."""
    stmt = (update(Run).where(Run.id == run_id, Run.attempt == attempt, Run.status == RunStatus.training,
                              col(Run.stalled_at).is_(None)).values(stalled_at=utcnow()))
    return session.exec(stmt).rowcount == 1


def runs_started_from(*, session: Session, model_version_ids: Iterable[int]) -> dict[int, list[Run]]:
    """Model version id → the runs started from it (``init_version``), oldest first."""
    ids = list(model_version_ids)
    out: dict[int, list[Run]] = {i: [] for i in ids}
    if not ids:
        return out
    for run in session.exec(select(Run).where(Run.parent_version_id.in_(ids)).order_by(Run.id)):
        out[run.parent_version_id].append(run)
    return out
