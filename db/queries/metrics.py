"""Metrics: the curves runs log, written in bulk and read downsampled in the database."""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import BigInteger, cast, delete, func, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, select

from db.models import Metric, utcnow
from db.nonfinite import decode_float, encode_float

__all__ = ["METRIC_COLUMNS", "add_metrics", "metric_rows", "CURVE_BUCKETS", "metric_buckets", "latest_metrics",
           "first_finite_metric", "last_points", "last_metric_value", "delete_metrics_after", "metric_names",
           "metric_summaries", "downsampled_metrics"]


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


def last_metric_value(*, session: Session, run_id: int, name: str) -> float | None:
    """The value of ``name`` at the run's highest step, or None."""
    row = session.exec(select(Metric.value).where(Metric.run_id == run_id, Metric.name == name)
                       .order_by(col(Metric.step).desc(), col(Metric.id).desc()).limit(1)).first()
    return None if row is None else float(row)


def delete_metrics_after(*, session: Session, run_id: int, step: int) -> int:
    """Drop metrics logged after ``step`` (a resume re-logs them from the checkpoint on)."""
    result = session.exec(delete(Metric).where(Metric.run_id == run_id, Metric.step > step))
    return result.rowcount or 0


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
