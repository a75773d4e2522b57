"""Repository functions: all of Trainyard's SQL lives here.

Every function takes the session as a keyword argument so callers decide the transaction.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, cast, delete, func, text, update
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, select

from db.models import (FINISHED, ActivationPolicy, Checkpoint, Dataset, Embedding, Metric, ModelEvent,
                       ModelStatus, ModelVersion, ResourceSample, Run, RunStatus, Sample, ShareLink, Sweep, utcnow)

from db.nonfinite import decode_float, encode_float

ACTIVATION_POLICIES = ("auto-if-better", "manual", "always")
DEFAULT_ACTIVATION_POLICY = "auto-if-better"

# ---- datasets -------------------------------------------------------------------------------


def create_dataset(*, session: Session, name: str, kind: str, root: str,
                   summary: Mapping[str, Any] | None = None, status: str = "ready") -> Dataset:
    dataset = Dataset(name=name, kind=kind, root=root, summary=dict(summary or {}), status=status)
    session.add(dataset)
    session.flush()
    return dataset


def get_dataset(*, session: Session, dataset_id: int) -> Dataset | None:
    return session.get(Dataset, dataset_id)


def get_dataset_by_name(*, session: Session, name: str) -> Dataset | None:
    return session.exec(select(Dataset).where(Dataset.name == name)).first()


def list_datasets(*, session: Session, kind: str | None = None) -> list[Dataset]:
    stmt = select(Dataset).order_by(Dataset.name)
    if kind:
        stmt = stmt.where(Dataset.kind == kind)
    return list(session.exec(stmt))


def add_samples(*, session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert many samples at once as plain Core rows (``dataset_id, path, group_key, group_value,
    label, split, flags, meta``): an import of 50k drawings builds no ORM objects."""
    if rows:
        session.connection().execute(Sample.__table__.insert(), [dict(r) for r in rows])


def dataset_samples(*, session: Session, dataset_id: int) -> list[Sample]:
    return list(session.exec(select(Sample).where(Sample.dataset_id == dataset_id).order_by(Sample.id)))


# ---- runs -----------------------------------------------------------------------------------


def create_run(*, session: Session, family: str, config: Mapping[str, Any], dataset_id: int | None = None,
               name: str = "", task: str | None = None, priority: str = "default",
               parent_id: int | None = None, sweep_id: int | None = None) -> Run:
    run = Run(family=family, config=dict(config), dataset_id=dataset_id, name=name, task=task,
              priority=priority, parent_id=parent_id, sweep_id=sweep_id)
    session.add(run)
    session.flush()
    if not run.name:
        run.name = f"{family}-{run.id}"
    return run


def get_run(*, session: Session, run_id: int) -> Run | None:
    return session.get(Run, run_id)


def list_runs(*, session: Session, statuses: Iterable[RunStatus | str] | None = None,
              family: str | None = None, limit: int = 200) -> list[Run]:
    stmt = select(Run).order_by(col(Run.id).desc()).limit(limit)
    if statuses:
        stmt = stmt.where(col(Run.status).in_([RunStatus(s) for s in statuses]))
    if family:
        stmt = stmt.where(Run.family == family)
    return list(session.exec(stmt))


def count_runs_by_status(*, session: Session) -> dict[str, int]:
    rows = session.exec(select(Run.status, func.count()).group_by(Run.status))
    return {RunStatus(status).value: n for status, n in rows}


def update_run(*, session: Session, run_id: int, **fields: Any) -> None:
    """Set columns of one run without loading it (progress and heartbeats are hot paths)."""
    session.exec(update(Run).where(Run.id == run_id).values(**fields))


def set_run_status(*, session: Session, run_id: int, status: RunStatus, **fields: Any) -> None:
    now = utcnow()
    values: dict[str, Any] = {"status": status, "heartbeat_at": now, **fields}
    if status in FINISHED:
        values.setdefault("finished_at", now)
    if status == RunStatus.preparing:
        values.setdefault("started_at", now)
    update_run(session=session, run_id=run_id, **values)


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


# ---- run attempts: one execution at a time ----------------------------------------------------

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
    now = utcnow()
    values: dict[str, Any] = {"status": status, "heartbeat_at": now, **fields}
    if status in FINISHED:
        values.setdefault("finished_at", now)
    if status == RunStatus.preparing:
        values.setdefault("started_at", now)
    return update_if_current(session=session, run_id=run_id, attempt=attempt, statuses=statuses, **values)


def attempt_state(*, session: Session, run_id: int) -> tuple[int, RunStatus, bool] | None:
    """``(attempt, status, cancel_requested)`` of a run, read in one query (the worker polls it)."""
    row = session.exec(select(Run.attempt, Run.status, Run.cancel_requested).where(Run.id == run_id)).first()
    return (int(row[0]), RunStatus(row[1]), bool(row[2])) if row else None


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


# ---- metrics --------------------------------------------------------------------------------


METRIC_COLUMNS = ("run_id", "step", "epoch", "name", "value", "time")


def add_metrics(*, session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert many metric rows at once (``run_id, step, epoch, name, value, time``; ``epoch`` and
    ``time`` may be left out). Plain Core rows, not ORM objects: a live run writes thousands a
    second. PostgreSQL takes them through COPY, SQLite through one ``executemany``. NaN and
    infinite values are stored faithfully (``db/nonfinite.py``) and read back as those floats."""
    if not rows:
        return
    rows = [_encoded(row) for row in rows]
    table = Metric.__table__
    columns = (*METRIC_COLUMNS, *(k for k in rows[0] if k not in METRIC_COLUMNS and k in table.c))
    now = utcnow()
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        statement = f"COPY metric ({', '.join(columns)}) FROM STDIN"
        cursor = conn.connection.driver_connection.cursor()
        try:
            with cursor, cursor.copy(statement) as copy:
                for r in rows:
                    copy.write_row(tuple(r.get(c, now) if c == "time" else r.get(c) for c in columns))
        except conn.dialect.dbapi.Error as exc:
            # the raw driver cursor bypasses SQLAlchemy: wrap its error the way SQLAlchemy would,
            # so lock and serialization failures are recognised (and retried) like any other write
            raise DBAPIError.instance(statement, None, exc, conn.dialect.dbapi.Error) from exc
        return
    # the column types' own converters, once per distinct timestamp rather than per row and column
    to_db = table.c.time.type.dialect_impl(conn.dialect).bind_processor(conn.dialect) or (lambda v: v)
    stamps: dict[Any, Any] = {}

    def stamp(value: Any) -> Any:
        if value not in stamps:
            stamps[value] = to_db(value)
        return stamps[value]

    time_at = columns.index("time")
    data = [tuple(stamp(r.get("time") or now) if i == time_at else r.get(c) for i, c in enumerate(columns))
            for r in rows]
    sql = f"INSERT INTO metric ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    conn.exec_driver_sql(sql, data)


def _encoded(row: Mapping[str, Any]) -> dict[str, Any]:
    value, special = encode_float(row.get("value"))
    return {**row, "value": value, "special": special}


def metric_rows(*, session: Session, run_id: int, names: Iterable[str] | None = None) -> list[Metric]:
    stmt = select(Metric).where(Metric.run_id == run_id).order_by(Metric.name, Metric.step, Metric.id)
    if names is not None:
        stmt = stmt.where(col(Metric.name).in_(list(names)))
    return list(session.exec(stmt))


CURVE_BUCKETS = 1000  # two points (min and max) per bucket: at most 2,000 points per curve


def metric_buckets(*, session: Session, run_id: int, width: int | None = None, after_id: int = 0,
                   buckets: int = CURVE_BUCKETS) -> tuple[int, list[tuple]]:
    """A run's curves downsampled in the database: rows grouped by ``(name, step // width)``.

    Returns ``(width, rows)``; each row is ``(name, bucket, count, step_max, value_min, value_max,
    id_max)``, ordered by name and bucket. Without ``width`` it is chosen so that the
    run's highest step falls in bucket ``buckets - 1`` at most. ``after_id`` restricts the rows to
    those inserted after that metric id (a live page fetches only what is new and merges it into
    the buckets it has: count, min and max combine exactly)."""
    m = Metric.__table__.c
    # after a refresh only the newest rows are wanted: walk the primary key from ``after_id``
    # (``run_id + 0`` keeps the planners from scanning the run's whole index instead)
    where = [m.run_id + 0 == run_id, m.id > after_id] if after_id else [m.run_id == run_id]
    if width is None:
        top = session.exec(select(m.step).where(m.run_id == run_id).order_by(col(m.step).desc()).limit(1)).first()
        width = int(top or 0) // buckets + 1
    if not after_id and session.get_bind().dialect.name == "postgresql":
        # a whole run is a million rows into a few thousand groups: hash them in memory (the
        # default work_mem makes the planner sort on disk) and skip JIT, which costs more than it saves
        session.exec(text("SET LOCAL work_mem = '64MB'"))
        session.exec(text("SET LOCAL jit = off"))
    bucket = (m.step // width).label("bucket")
    stmt = (select(m.name, bucket, func.count(), func.max(m.step), func.min(m.value), func.max(m.value),
                   func.max(m.id))
            .where(*where).group_by(m.name, bucket))
    return width, sorted((tuple(r) for r in session.exec(stmt)), key=lambda r: (r[0], r[1]))


def latest_metrics(*, session: Session, run_id: int) -> dict[str, float]:
    """Each metric's value at its highest step."""
    last = (select(Metric.name, func.max(Metric.step).label("step"))
            .where(Metric.run_id == run_id).group_by(Metric.name).subquery())
    stmt = (select(Metric.name, Metric.value, Metric.special)
            .join(last, (Metric.name == last.c.name) & (Metric.step == last.c.step))
            .where(Metric.run_id == run_id).order_by(Metric.name, Metric.id))
    return {name: decode_float(value, special) for name, value, special in session.exec(stmt)}


def first_finite_metric(*, session: Session, run_id: int, name: str) -> float | None:
    """The value of metric ``name`` at its lowest step where it was finite (None if never)."""
    stmt = (select(Metric.value).where(Metric.run_id == run_id, Metric.name == name,
                                       col(Metric.special).is_(None), col(Metric.value).is_not(None))
            .order_by(Metric.step, Metric.id).limit(1))
    return session.exec(stmt).first()


def last_points(*, session: Session, run_id: int, names: Iterable[str]) -> dict[str, tuple[int, int | None, float]]:
    """``(step, epoch, value)`` at the highest step of each of ``names``: one index lookup per
    name, so the cost does not grow with the run's length as ``latest_metrics``'s grouping does."""
    out = {}
    for name in names:
        stmt = (select(Metric.step, Metric.epoch, Metric.value).where(Metric.run_id == run_id, Metric.name == name)
                .order_by(col(Metric.step).desc(), col(Metric.id).desc()).limit(1))
        row = session.exec(stmt).first()
        if row is not None:
            out[name] = tuple(row)
    return out


def delete_metrics_after(*, session: Session, run_id: int, step: int) -> int:
    """Drop metrics logged after ``step`` (a resume re-logs them from the checkpoint on)."""
    result = session.exec(delete(Metric).where(Metric.run_id == run_id, Metric.step > step))
    return result.rowcount or 0


# ---- checkpoints ----------------------------------------------------------------------------


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


def best_monitored(*, session: Session, run_id: int) -> float | None:
    stmt = select(func.min(Checkpoint.monitored)).where(Checkpoint.run_id == run_id)
    return session.exec(stmt).first()


# ---- resources ------------------------------------------------------------------------------


def add_resource_sample(*, session: Session, run_id: int, cpu_percent: float, ram_percent: float,
                        ram_mb: float, gpu_percent: float | None = None,
                        gpu_mem_percent: float | None = None) -> None:
    session.add(ResourceSample(run_id=run_id, cpu_percent=cpu_percent, ram_percent=ram_percent,
                               ram_mb=ram_mb, gpu_percent=gpu_percent, gpu_mem_percent=gpu_mem_percent))


def resource_samples(*, session: Session, run_id: int, limit: int = 2000) -> list[ResourceSample]:
    stmt = (select(ResourceSample).where(ResourceSample.run_id == run_id)
            .order_by(col(ResourceSample.time).desc()).limit(limit))
    return list(reversed(list(session.exec(stmt))))


# ---- model registry -------------------------------------------------------------------------


def model_slot(family: str, task: str | None, scope: str) -> str:
    """The key of a (family, task, scope): at most one version holds it as ``active_slot``."""
    return f"{family}|{task or ''}|{scope}"


def register_model_version(*, session: Session, run_id: int, family: str, artifact_path: str,
                           task: str | None = None, scope: str = "",
                           metrics: Mapping[str, Any] | None = None, threshold: float | None = None,
                           sha256: str | None = None, activate: bool = True,
                           actor: str | None = None) -> ModelVersion:
    """Store a new version as a candidate (with an audit line); ``activate`` makes it active at
    once regardless of metrics (the worker decides through the family's policy instead)."""
    version = ModelVersion(run_id=run_id, family=family, task=task, scope=scope, sha256=sha256,
                           artifact_path=artifact_path, metrics=dict(metrics or {}), threshold=threshold,
                           status=ModelStatus.candidate.value)
    session.add(version)
    session.flush()
    add_model_event(session=session, version=version, action="register", reason=f"run #{run_id} finished",
                    actor=actor)
    if activate:
        activate_model_version(session=session, model_version_id=version.id, reason="activated at registration",
                               actor=actor)
    return version


def get_model_version(*, session: Session, model_version_id: int, for_update: bool = False) -> ModelVersion | None:
    stmt = select(ModelVersion).where(ModelVersion.id == model_version_id)
    if for_update:
        stmt = stmt.with_for_update()
    return session.exec(stmt).first()


def active_model_for_update(*, session: Session, family: str, task: str | None, scope: str) -> ModelVersion | None:
    """The active version of a scope, row-locked until commit on PostgreSQL (SQLite locks the
    whole database at the first write instead; the unique slot index catches the rest)."""
    stmt = (select(ModelVersion).where(ModelVersion.active_slot == model_slot(family, task, scope))
            .with_for_update())
    return session.exec(stmt).first()


def activate_model_version(*, session: Session, model_version_id: int, reason: str = "manual",
                           actor: str | None = None) -> ModelVersion:
    """Make one version the active one of its family/task/scope and archive the one it replaces,
    with an audit line. One attempt: when another transaction activates a version of the same
    scope at the same time, the unique ``active_slot`` index makes one of them fail with an
    ``IntegrityError`` (or SQLite's 'database is locked'); callers retry in a new transaction."""
    version = get_model_version(session=session, model_version_id=model_version_id, for_update=True)
    if version is None:
        raise LookupError(f"no model version with id {model_version_id}")
    if version.status == ModelStatus.deleted.value:
        raise ValueError(f"model version #{version.id} was deleted; its file is gone")
    current = active_model_for_update(session=session, family=version.family, task=version.task, scope=version.scope)
    if current is not None and current.id == version.id:
        return version
    if current is not None:
        current.active, current.active_slot, current.status = False, None, ModelStatus.archived.value
        session.add(current)
        session.flush()  # free the slot before taking it
    version.active, version.status = True, ModelStatus.active.value
    version.active_slot = model_slot(version.family, version.task, version.scope)
    session.add(version)
    session.flush()
    add_model_event(session=session, version=version, action="activate", reason=reason, actor=actor,
                    replaced_id=current.id if current is not None else None)
    return version


def set_model_status(*, session: Session, model_version_id: int, status: ModelStatus, reason: str,
                     actor: str | None = None) -> ModelVersion:
    """Archive, delete or return a version to candidate (never 'active': use ``activate_model_version``).
    A version that was active leaves its scope with none active."""
    if ModelStatus(status) == ModelStatus.active:
        raise ValueError("use activate_model_version to activate")
    version = get_model_version(session=session, model_version_id=model_version_id, for_update=True)
    if version is None:
        raise LookupError(f"no model version with id {model_version_id}")
    version.active, version.active_slot, version.status = False, None, ModelStatus(status).value
    session.add(version)
    session.flush()
    action = "demote" if ModelStatus(status) == ModelStatus.candidate else ModelStatus(status).value
    add_model_event(session=session, version=version, action=action, reason=reason, actor=actor)
    return version


def add_model_event(*, session: Session, version: ModelVersion, action: str, reason: str,
                    actor: str | None = None, replaced_id: int | None = None) -> ModelEvent:
    event = ModelEvent(family=version.family, task=version.task, scope=version.scope, action=action,
                       model_version_id=version.id, replaced_id=replaced_id, reason=reason, actor=actor)
    session.add(event)
    session.flush()
    return event


def model_events(*, session: Session, family: str | None = None, model_version_id: int | None = None,
                 limit: int = 500) -> list[ModelEvent]:
    """Audit lines, newest first."""
    stmt = select(ModelEvent).order_by(col(ModelEvent.id).desc()).limit(limit)
    if family:
        stmt = stmt.where(ModelEvent.family == family)
    if model_version_id is not None:
        stmt = stmt.where((ModelEvent.model_version_id == model_version_id)
                          | (ModelEvent.replaced_id == model_version_id))
    return list(session.exec(stmt))


def rollback_target(*, session: Session, family: str, task: str | None, scope: str) -> ModelVersion | None:
    """The version the current active one replaced (the newest activation's ``replaced_id``),
    if it still has its file."""
    current = active_model(session=session, family=family, scope=scope, task=task)
    if current is None:
        return None
    stmt = (select(ModelEvent).where(ModelEvent.model_version_id == current.id, ModelEvent.action == "activate")
            .order_by(col(ModelEvent.id).desc()))
    event = session.exec(stmt).first()
    if event is None or event.replaced_id is None:
        return None
    target = session.get(ModelVersion, event.replaced_id)
    return target if target is not None and target.status != ModelStatus.deleted.value else None


def get_activation_policy(*, session: Session, family: str) -> str:
    row = session.get(ActivationPolicy, family)
    return row.policy if row is not None else DEFAULT_ACTIVATION_POLICY


def set_activation_policy(*, session: Session, family: str, policy: str, actor: str | None = None) -> None:
    if policy not in ACTIVATION_POLICIES:
        raise ValueError(f"unknown activation policy {policy!r}; choose one of {', '.join(ACTIVATION_POLICIES)}")
    row = session.get(ActivationPolicy, family)
    old = row.policy if row is not None else DEFAULT_ACTIVATION_POLICY
    row = row or ActivationPolicy(family=family)
    row.policy, row.updated_at, row.updated_by = policy, utcnow(), actor
    session.add(row)
    session.add(ModelEvent(family=family, scope="", action="policy", reason=f"policy {old} → {policy}", actor=actor))
    session.flush()


def list_model_versions(*, session: Session, family: str | None = None,
                        active_only: bool = False) -> list[ModelVersion]:
    stmt = select(ModelVersion).order_by(col(ModelVersion.id).desc())
    if family:
        stmt = stmt.where(ModelVersion.family == family)
    if active_only:
        stmt = stmt.where(ModelVersion.active == True)  # noqa: E712 (SQL expression)
    return list(session.exec(stmt))


def active_model(*, session: Session, family: str, scope: str = "", task: str | None = None) -> ModelVersion | None:
    stmt = select(ModelVersion).where(ModelVersion.family == family, ModelVersion.scope == scope,
                                      ModelVersion.active == True)  # noqa: E712
    stmt = stmt.where(ModelVersion.task == task) if task is not None else stmt
    return session.exec(stmt).first()


def model_versions_for_runs(*, session: Session, run_ids: Iterable[int]) -> list[ModelVersion]:
    ids = list(run_ids)
    if not ids:
        return []
    return list(session.exec(select(ModelVersion).where(col(ModelVersion.run_id).in_(ids)).order_by(ModelVersion.id)))


def scope_versions(*, session: Session, family: str, scope: str, task: str | None = None,
                   usable_only: bool = True) -> list[ModelVersion]:
    """Versions of one scope, active first then newest (for pickers); ``usable_only`` drops deleted ones."""
    stmt = select(ModelVersion).where(ModelVersion.family == family, ModelVersion.scope == scope)
    stmt = stmt.where(ModelVersion.task == task) if task is not None else stmt
    if usable_only:
        stmt = stmt.where(ModelVersion.status != ModelStatus.deleted.value)
    return sorted(session.exec(stmt), key=lambda v: (not v.active, -(v.id or 0)))


# ---- share links ----------------------------------------------------------------------------


def create_share_link(*, session: Session, token: str, run_ids: Sequence[int], title: str = "",
                      expires_at: datetime | None = None, kind: str = "runs",
                      model_version_id: int | None = None) -> ShareLink:
    link = ShareLink(token=token, run_ids=list(run_ids), title=title, expires_at=expires_at, kind=kind,
                     model_version_id=model_version_id)
    session.add(link)
    session.flush()
    return link


def get_share_link(*, session: Session, token: str) -> ShareLink | None:
    return session.exec(select(ShareLink).where(ShareLink.token == token)).first()


def list_share_links(*, session: Session, include_revoked: bool = False) -> list[ShareLink]:
    stmt = select(ShareLink).order_by(col(ShareLink.id).desc())
    if not include_revoked:
        stmt = stmt.where(col(ShareLink.revoked_at).is_(None))
    return list(session.exec(stmt))


def revoke_share_link(*, session: Session, link_id: int) -> None:
    session.exec(update(ShareLink).where(ShareLink.id == link_id, col(ShareLink.revoked_at).is_(None))
                 .values(revoked_at=utcnow()))


# ---- comparison: many runs, summarised and downsampled in the database ------------------------


def find_runs(*, session: Session, family: str | None = None, dataset_id: int | None = None,
              statuses: Iterable[RunStatus | str] | None = None, sweep_id: int | None = None,
              since: datetime | None = None, until: datetime | None = None,
              run_ids: Iterable[int] | None = None, limit: int = 500) -> list[Run]:
    """Runs matching every given filter, newest first."""
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
    return list(session.exec(stmt))


def list_sweeps(*, session: Session) -> list[Sweep]:
    return list(session.exec(select(Sweep).order_by(col(Sweep.id).desc())))


def metric_names(*, session: Session, run_ids: Iterable[int]) -> list[str]:
    ids = list(run_ids)
    if not ids:
        return []
    stmt = select(Metric.name).where(col(Metric.run_id).in_(ids)).distinct().order_by(Metric.name)
    return list(session.exec(stmt))


def metric_summaries(*, session: Session, run_ids: Iterable[int],
                     names: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Per run and metric: ``count, min, max, last`` (value at the highest step) and ``last_step``,
    computed by the database so long histories never leave it."""
    ids = list(run_ids)
    if not ids:
        return []
    agg = (select(Metric.run_id, Metric.name, func.count().label("n"), func.min(Metric.value).label("vmin"),
                  func.max(Metric.value).label("vmax"), func.max(Metric.step).label("last_step"))
           .where(col(Metric.run_id).in_(ids)).group_by(Metric.run_id, Metric.name))
    if names is not None:
        agg = agg.where(col(Metric.name).in_(list(names)))
    agg = agg.subquery()
    stmt = (select(agg.c.run_id, agg.c.name, agg.c.n, agg.c.vmin, agg.c.vmax, agg.c.last_step, Metric.value)
            .join(Metric, (Metric.run_id == agg.c.run_id) & (Metric.name == agg.c.name)
                  & (Metric.step == agg.c.last_step))
            .order_by(agg.c.run_id, agg.c.name, Metric.id))
    out: dict[tuple[int, str], dict[str, Any]] = {}
    for run_id, name, n, vmin, vmax, last_step, value in session.exec(stmt):
        out[(run_id, name)] = {"run_id": run_id, "name": name, "count": int(n), "min": vmin, "max": vmax,
                               "last": value, "last_step": last_step}  # the newest row of a step wins
    return list(out.values())


def downsampled_metrics(*, session: Session, run_ids: Iterable[int], names: Iterable[str],
                        max_points: int = 1000) -> list[dict[str, Any]]:
    """Each (run, metric) series cut into at most ``max_points`` equal step buckets; per bucket the
    ``min`` and ``max`` value (so spikes survive) and the ``last`` row (``step``, ``epoch``,
    ``time``, ``value``). A series shorter than ``max_points`` comes back point for point.
    Sorted by run, name, step."""
    ids, wanted = list(run_ids), list(names)
    if not ids or not wanted or max_points < 1:
        return []
    span = (select(Metric.run_id, Metric.name, func.min(Metric.step).label("lo"), func.max(Metric.step).label("hi"))
            .where(col(Metric.run_id).in_(ids), col(Metric.name).in_(wanted))
            .group_by(Metric.run_id, Metric.name).subquery())
    # integer division in both SQLite and PostgreSQL; BIGINT so step × buckets cannot overflow
    bucket = (cast(Metric.step - span.c.lo, BigInteger) * max_points // (span.c.hi - span.c.lo + 1)).label("bucket")
    buckets = (select(Metric.run_id, Metric.name, bucket, func.min(Metric.value).label("vmin"),
                      func.max(Metric.value).label("vmax"), func.max(Metric.step).label("last_step"))
               .join(span, (span.c.run_id == Metric.run_id) & (span.c.name == Metric.name))
               .group_by(Metric.run_id, Metric.name, bucket).subquery())
    stmt = (select(buckets.c.run_id, buckets.c.name, buckets.c.last_step, Metric.epoch, Metric.time, Metric.value,
                   buckets.c.vmin, buckets.c.vmax)
            .join(Metric, (Metric.run_id == buckets.c.run_id) & (Metric.name == buckets.c.name)
                  & (Metric.step == buckets.c.last_step))
            .order_by(buckets.c.run_id, buckets.c.name, buckets.c.last_step, Metric.id))
    out: dict[tuple[int, str, int], dict[str, Any]] = {}
    for run_id, name, step, epoch, time, value, vmin, vmax in session.exec(stmt):
        out[(run_id, name, step)] = {"run_id": run_id, "name": name, "step": step, "epoch": epoch, "time": time,
                                     "value": value, "min": vmin, "max": vmax}
    return list(out.values())


# ---- anomaly family: drawings by age, embeddings --------------------------------------------


def samples_in_age_range(*, session: Session, dataset_id: int, lo: float, hi: float,
                         include_hi: bool = False) -> list[Sample]:
    """Samples whose age (``group_value``) lies in ``[lo, hi)`` (``[lo, hi]`` with ``include_hi``)."""
    upper = col(Sample.group_value) <= hi if include_hi else col(Sample.group_value) < hi
    stmt = (select(Sample).where(Sample.dataset_id == dataset_id, Sample.group_key == "age",
                                 col(Sample.group_value) >= lo, upper)
            .order_by(Sample.id))
    return list(session.exec(stmt))


def samples_missing_embedding(*, session: Session, dataset_id: int, backbone: str,
                              sample_ids: Iterable[int] | None = None) -> list[Sample]:
    """Samples of the dataset (optionally only ``sample_ids``) with no embedding for ``backbone``."""
    have = select(Embedding.sample_id).where(Embedding.backbone == backbone)
    stmt = select(Sample).where(Sample.dataset_id == dataset_id, col(Sample.id).not_in(have))
    if sample_ids is not None:
        stmt = stmt.where(col(Sample.id).in_(list(sample_ids)))
    return list(session.exec(stmt.order_by(Sample.id)))


def store_embeddings(*, session: Session, backbone: str, rows: Sequence[tuple[int, int, bytes]]) -> int:
    """Insert ``(sample_id, dim, float32 bytes)`` rows; a row that already exists (another worker
    got there first) is kept as it is. Returns how many rows were new."""
    if not rows:
        return 0
    values = [{"sample_id": sid, "backbone": backbone, "dim": dim, "vector": vec, "created_at": utcnow()}
              for sid, dim, vec in rows]
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise RuntimeError(f"unsupported database dialect {dialect!r}")
    stmt = insert(Embedding).values(values).on_conflict_do_nothing(index_elements=["sample_id", "backbone"])
    result = session.exec(stmt)
    return result.rowcount if result.rowcount is not None and result.rowcount >= 0 else len(rows)


def embeddings_for_samples(*, session: Session, sample_ids: Iterable[int], backbone: str) -> dict[int, Embedding]:
    ids = list(sample_ids)
    if not ids:
        return {}
    stmt = select(Embedding).where(Embedding.backbone == backbone, col(Embedding.sample_id).in_(ids))
    return {e.sample_id: e for e in session.exec(stmt)}


def count_embeddings(*, session: Session, dataset_id: int, backbone: str | None = None) -> int:
    stmt = (select(func.count()).select_from(Embedding).join(Sample, Sample.id == Embedding.sample_id)
            .where(Sample.dataset_id == dataset_id))
    if backbone is not None:
        stmt = stmt.where(Embedding.backbone == backbone)
    return int(session.exec(stmt).one())


def embedding_backbones(*, session: Session, dataset_id: int) -> dict[str, int]:
    """Backbone → number of the dataset's samples embedded with it."""
    stmt = (select(Embedding.backbone, func.count()).join(Sample, Sample.id == Embedding.sample_id)
            .where(Sample.dataset_id == dataset_id).group_by(Embedding.backbone))
    return {name: int(n) for name, n in session.exec(stmt)}


# ---- sweeps -------------------------------------------------------------------------------------


def create_sweep(*, session: Session, name: str, family: str, space: Mapping[str, Any], method: str,
                 metric: str, direction: str, max_trials: int, parallel: int, pruner: str,
                 dataset_id: int | None = None, priority: str = "default") -> Sweep:
    sweep = Sweep(name=name, family=family, space=dict(space), method=method, metric=metric, direction=direction,
                  max_trials=max_trials, parallel=parallel, pruner=pruner, dataset_id=dataset_id, priority=priority)
    session.add(sweep)
    session.flush()
    sweep.study_name = f"trainyard-sweep-{sweep.id}"
    if not sweep.name:
        sweep.name = f"{family} sweep {sweep.id}"
    return sweep


def get_sweep(*, session: Session, sweep_id: int) -> Sweep | None:
    return session.get(Sweep, sweep_id)


def list_sweeps(*, session: Session, family: str | None = None, limit: int = 200) -> list[Sweep]:
    stmt = select(Sweep).order_by(col(Sweep.id).desc()).limit(limit)
    if family:
        stmt = stmt.where(Sweep.family == family)
    return list(session.exec(stmt))


def update_sweep(*, session: Session, sweep_id: int, **fields: Any) -> None:
    session.exec(update(Sweep).where(Sweep.id == sweep_id).values(**fields))


def sweep_runs(*, session: Session, sweep_id: int) -> list[Run]:
    """A sweep's trials, in trial order."""
    return list(session.exec(select(Run).where(Run.sweep_id == sweep_id)
                             .order_by(col(Run.trial_number).asc(), col(Run.id).asc())))


def last_metric_value(*, session: Session, run_id: int, name: str) -> float | None:
    """The value of ``name`` at the run's highest step, or None."""
    row = session.exec(select(Metric.value).where(Metric.run_id == run_id, Metric.name == name)
                       .order_by(col(Metric.step).desc(), col(Metric.id).desc()).limit(1)).first()
    return None if row is None else float(row)


# ---- cached per-sample analyses and checkpoint records --------------------------------------


def sample_meta_by_root(*, session: Session, root: str, kind: str) -> dict[str, dict[str, Any]]:
    """Path → stored ``meta`` of every sample already imported from folder ``root`` as ``kind``
    (a rescan reuses analyses whose file content is unchanged)."""
    stmt = (select(Sample.path, Sample.meta).join(Dataset, Dataset.id == Sample.dataset_id)
            .where(Dataset.root == root, Dataset.kind == kind))
    return {path: dict(meta or {}) for path, meta in session.exec(stmt)}


def checkpoint_by_path(*, session: Session, path: str) -> Checkpoint | None:
    """The newest checkpoint row recorded for the file at ``path`` (its sha256 gates loading)."""
    stmt = select(Checkpoint).where(Checkpoint.path == path).order_by(col(Checkpoint.id).desc())
    return session.exec(stmt).first()
