"""Repository functions: all of Trainyard's SQL lives here.

Every function takes the session as a keyword argument so callers decide the transaction.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, text, update
from sqlmodel import Session, col, select

from db.models import (FINISHED, Checkpoint, Dataset, Embedding, Metric, ModelVersion, ResourceSample, Run,
                       RunStatus, Sample, ShareLink, utcnow)

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


# ---- metrics --------------------------------------------------------------------------------


METRIC_COLUMNS = ("run_id", "step", "epoch", "name", "value", "time")


def add_metrics(*, session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert many metric rows at once (``run_id, step, epoch, name, value, time``; ``epoch`` and
    ``time`` may be left out). Plain Core rows, not ORM objects: a live run writes thousands a
    second. PostgreSQL takes them through COPY, SQLite through one ``executemany``."""
    if not rows:
        return
    table = Metric.__table__
    columns = (*METRIC_COLUMNS, *(k for k in rows[0] if k not in METRIC_COLUMNS and k in table.c))
    now = utcnow()
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        cursor = conn.connection.driver_connection.cursor()
        with cursor, cursor.copy(f"COPY metric ({', '.join(columns)}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row(tuple(r.get(c, now) if c == "time" else r.get(c) for c in columns))
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
    stmt = (select(Metric.name, Metric.value)
            .join(last, (Metric.name == last.c.name) & (Metric.step == last.c.step))
            .where(Metric.run_id == run_id).order_by(Metric.name, Metric.id))
    return {name: value for name, value in session.exec(stmt)}


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


def latest_checkpoint(*, session: Session, run_id: int) -> Checkpoint | None:
    stmt = (select(Checkpoint).where(Checkpoint.run_id == run_id)
            .order_by(col(Checkpoint.step).desc(), col(Checkpoint.id).desc()))
    return session.exec(stmt).first()


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


def register_model_version(*, session: Session, run_id: int, family: str, artifact_path: str,
                           task: str | None = None, scope: str = "",
                           metrics: Mapping[str, Any] | None = None, threshold: float | None = None,
                           sha256: str | None = None, activate: bool = True) -> ModelVersion:
    version = ModelVersion(run_id=run_id, family=family, task=task, scope=scope, sha256=sha256,
                           artifact_path=artifact_path, metrics=dict(metrics or {}), threshold=threshold)
    session.add(version)
    session.flush()
    if activate:
        activate_model_version(session=session, model_version_id=version.id)
    return version


def activate_model_version(*, session: Session, model_version_id: int) -> ModelVersion:
    """Make one version active and every other of its family/task/scope inactive."""
    version = session.get(ModelVersion, model_version_id)
    if version is None:
        raise LookupError(f"no model version with id {model_version_id}")
    session.exec(update(ModelVersion)
                 .where(ModelVersion.family == version.family, ModelVersion.scope == version.scope,
                        (ModelVersion.task == version.task) if version.task is not None
                        else col(ModelVersion.task).is_(None),
                        ModelVersion.id != version.id)
                 .values(active=False))
    version.active = True
    session.add(version)
    session.flush()
    return version


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


# ---- share links ----------------------------------------------------------------------------


def create_share_link(*, session: Session, token: str, run_ids: Sequence[int], title: str = "",
                      expires_at: datetime | None = None) -> ShareLink:
    link = ShareLink(token=token, run_ids=list(run_ids), title=title, expires_at=expires_at)
    session.add(link)
    session.flush()
    return link


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
