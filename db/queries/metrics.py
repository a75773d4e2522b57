"""Metrics: the curves runs log, written in bulk and read downsampled in the database."""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import numpy as np
from sqlalchemy import BigInteger, String, cast, delete, func, text, type_coerce
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, select

from db.models import Metric, MetricBucket, MetricSummary, utcnow
from db.nonfinite import decode_float, encode_float

__all__ = ["METRIC_COLUMNS", "add_metrics", "metric_rows", "CURVE_BUCKETS", "metric_buckets", "latest_metrics",
           "first_finite_metric", "last_points", "last_metric_value", "delete_metrics_after", "metric_names",
           "metric_summaries", "downsampled_metrics", "PYRAMID_LEVELS", "curve_level", "curve_points",
           "pyramid_metrics", "rebuild_summaries", "scanned_summaries", "newest_metric_id"]


METRIC_COLUMNS = ("run_id", "step", "epoch", "name", "value", "time")


def add_metrics(*, session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert many metric rows at once (``run_id, step, epoch, name, value, time``; ``epoch`` and
    ``time`` may be left out). Plain Core rows, not ORM objects: a live run writes thousands a
    second. PostgreSQL takes them through COPY, SQLite through one ``executemany``. NaN and
    infinite values are stored faithfully (``db/nonfinite.py``) and read back as those floats."""
    if not rows:
        return
    now = utcnow()
    rows = [_encoded(row, now) for row in rows]
    _insert_raw(session, rows)
    _fold_in(session, rows)


def _insert_raw(session: Session, rows: list[dict[str, Any]]) -> None:
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


def _encoded(row: Mapping[str, Any], now: Any) -> dict[str, Any]:
    value, special = encode_float(row.get("value"))
    return {**row, "value": value, "special": special, "time": row.get("time") or now}


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
    """Drop metrics logged after ``step`` (a resume re-logs them from the checkpoint on), and
    bring the run's summaries and pyramid back to the rows that remain: buckets wholly after
    ``step`` go, the one bucket per level that straddles it is folded again (the first level from
    its few raw rows, each level above from its four children), the summaries are recomputed."""
    result = session.exec(delete(Metric).where(Metric.run_id == run_id, Metric.step > step))
    m, b = Metric.__table__.c, MetricBucket.__table__.c
    below = None
    for level in PYRAMID_LEVELS:
        straddler = (step + 1) >> level
        session.exec(delete(MetricBucket).where(b.run_id == run_id, b.level == level, b.bucket >= straddler))
        if straddler << level == step + 1:  # bucket boundary: nothing of it remains
            below = level
            continue
        if below is None:  # the finest level: its remaining raw rows (fewer than 2^level steps' worth)
            parts = [{"name": r.name, "count": 1, "vmin": r.value, "vmax": r.value, "last_step": r.step,
                      "last_epoch": r.epoch, "last_time": r.time, "last_value": r.value, "last_special": r.special}
                     for r in session.exec(select(m.name, m.step, m.epoch, m.time, m.value, m.special)
                                           .where(m.run_id == run_id, m.step >= straddler << level)
                                           .order_by(m.name, m.step, m.id))]
        else:
            child = (straddler << level) >> below
            parts = [dict(r._mapping) for r in session.exec(
                select(b.name, b.count, b.vmin, b.vmax, b.last_step, b.last_epoch, b.last_time, b.last_value,
                       b.last_special)
                .where(b.run_id == run_id, b.level == below, b.bucket >= child).order_by(b.name, b.bucket))]
        below = level
        by_name: dict[str, list[dict]] = {}
        for part in parts:
            by_name.setdefault(part["name"], []).append(part)
        for name, group in by_name.items():
            session.add(MetricBucket(run_id=run_id, name=name, level=level, bucket=straddler, **_fold(group)))
        session.flush()
    rebuild_summaries(session=session, run_id=run_id)
    return result.rowcount or 0


def _fold(parts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Buckets (or rows as one-row buckets) in step-then-arrival order folded into one."""
    lows = [p["vmin"] for p in parts if p["vmin"] is not None]
    highs = [p["vmax"] for p in parts if p["vmax"] is not None]
    last = max(reversed(parts), key=lambda p: p["last_step"])  # the latest part of the highest step
    return {"count": sum(p["count"] for p in parts), "vmin": min(lows) if lows else None,
            "vmax": max(highs) if highs else None, "last_step": last["last_step"], "last_epoch": last["last_epoch"],
            "last_time": last["last_time"], "last_value": last["last_value"], "last_special": last["last_special"]}


# summaries from the raw rows (migration 0010 runs the same statement for every run)
SUMMARY_FROM_ROWS = """
INSERT INTO metric_summary (run_id, name, count, first_step, first_value, first_special, last_step, last_value,
                            last_special, min_value, min_step, max_value, max_step, version)
SELECT g.run_id, g.name, g.n, g.lo,
  (SELECT m.value FROM metric m WHERE m.run_id = g.run_id AND m.name = g.name AND m.step = g.lo ORDER BY m.id LIMIT 1),
  (SELECT m.special FROM metric m WHERE m.run_id = g.run_id AND m.name = g.name AND m.step = g.lo
   ORDER BY m.id LIMIT 1),
  g.hi,
  (SELECT m.value FROM metric m WHERE m.run_id = g.run_id AND m.name = g.name AND m.step = g.hi
   ORDER BY m.id DESC LIMIT 1),
  (SELECT m.special FROM metric m WHERE m.run_id = g.run_id AND m.name = g.name AND m.step = g.hi
   ORDER BY m.id DESC LIMIT 1),
  g.vmin, (SELECT min(m.step) FROM metric m WHERE m.run_id = g.run_id AND m.name = g.name AND m.value = g.vmin),
  g.vmax, (SELECT min(m.step) FROM metric m WHERE m.run_id = g.run_id AND m.name = g.name AND m.value = g.vmax),
  :version
FROM (SELECT run_id, name, count(*) AS n, min(step) AS lo, max(step) AS hi, min(value) AS vmin, max(value) AS vmax
      FROM metric WHERE {where} GROUP BY run_id, name) g
"""


def rebuild_summaries(*, session: Session, run_id: int) -> None:
    """Recompute a run's summaries from its raw rows; every version moves past the old ones."""
    s = MetricSummary.__table__.c
    old = session.exec(select(func.max(s.version)).where(s.run_id == run_id)).first() or 0
    session.exec(delete(MetricSummary).where(s.run_id == run_id))
    session.exec(text(SUMMARY_FROM_ROWS.format(where="run_id = :run")).bindparams(run=run_id, version=old + 1))


def metric_names(*, session: Session, run_ids: Iterable[int]) -> list[str]:
    """The metric names the runs logged, from their summaries (never the metric rows)."""
    ids = list(run_ids)
    if not ids:
        return []
    s = MetricSummary.__table__.c
    return list(session.exec(select(s.name).where(col(s.run_id).in_(ids)).distinct().order_by(s.name)))


def metric_summaries(*, session: Session, run_ids: Iterable[int],
                     names: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Per run and metric, from the summaries kept at ingest: ``count``, ``min`` and ``max``
    (finite values) with ``min_step``/``max_step``, ``first``/``first_step``, ``last`` (the value
    at the highest step, NaN or inf as such) and ``last_step``, and ``version`` (grows with every
    change). One index lookup per (run, metric), whatever the history's length."""
    ids = list(run_ids)
    if not ids:
        return []
    stmt = select(MetricSummary).where(col(MetricSummary.run_id).in_(ids)).order_by(MetricSummary.run_id,
                                                                                   MetricSummary.name)
    if names is not None:
        stmt = stmt.where(col(MetricSummary.name).in_(list(names)))
    return [{"run_id": r.run_id, "name": r.name, "count": r.count, "min": r.min_value, "max": r.max_value,
             "min_step": r.min_step, "max_step": r.max_step, "first": decode_float(r.first_value, r.first_special),
             "first_step": r.first_step, "last": decode_float(r.last_value, r.last_special),
             "last_step": r.last_step, "version": r.version}
            for r in session.exec(stmt)]


def scanned_summaries(*, session: Session, run_ids: Iterable[int],
                      names: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """``metric_summaries`` the old way, grouping the raw rows (a bench baseline and a test oracle)."""
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


# ---- summaries and the curve pyramid, maintained at ingest --------------------------------------

# bucket widths 2^level: 8, 32, 128, ... 8,388,608 steps. A factor of 4 between levels keeps the
# pyramid at about a sixth of the raw rows; the level read for a curve has 250–1,000 buckets.
PYRAMID_LEVELS = tuple(range(3, 24, 2))

_SUMMARY_COLUMNS = ("run_id", "name", "count", "first_step", "first_value", "first_special", "last_step",
                    "last_value", "last_special", "min_value", "min_step", "max_value", "max_step", "version")
_BUCKET_COLUMNS = ("run_id", "name", "level", "bucket", "count", "vmin", "vmax", "last_step", "last_epoch",
                   "last_time", "last_value", "last_special")


def _upsert_sql(table: str, columns: Sequence[str], keys: Sequence[str], sets: Mapping[str, str],
                mark: str) -> str:
    """``INSERT ... ON CONFLICT (keys) DO UPDATE``: the same text on SQLite (≥ 3.24) and PostgreSQL,
    with the driver's own placeholder ``mark`` (it is run through the driver's executemany)."""
    updates = ", ".join(f"{c} = {expr}" for c, expr in sets.items())
    return (f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))}) "
            f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}")


def _pick(table: str, cond: str, column: str) -> str:
    return f"CASE WHEN {cond} THEN excluded.{column} ELSE {table}.{column} END"


def _summary_sql(mark: str) -> str:
    t = "metric_summary"
    first = f"excluded.first_step < {t}.first_step"
    last = f"excluded.last_step >= {t}.last_step"  # the newer batch wins a tie: the newest row of a step
    lower = (f"{t}.min_value IS NULL OR excluded.min_value < {t}.min_value OR "
             f"(excluded.min_value = {t}.min_value AND excluded.min_step < {t}.min_step)")
    higher = (f"{t}.max_value IS NULL OR excluded.max_value > {t}.max_value OR "
              f"(excluded.max_value = {t}.max_value AND excluded.max_step < {t}.max_step)")
    sets = {"count": f"{t}.count + excluded.count",
            **{c: _pick(t, first, c) for c in ("first_step", "first_value", "first_special")},
            **{c: _pick(t, last, c) for c in ("last_step", "last_value", "last_special")},
            **{c: _pick(t, lower, c) for c in ("min_value", "min_step")},
            **{c: _pick(t, higher, c) for c in ("max_value", "max_step")},
            "version": f"{t}.version + 1"}
    return _upsert_sql(t, _SUMMARY_COLUMNS, ("run_id", "name"), sets, mark)


def _bucket_sql(mark: str) -> str:
    t = "metric_bucket"
    last = f"excluded.last_step >= {t}.last_step"
    sets = {"count": f"{t}.count + excluded.count",
            "vmin": f"CASE WHEN {t}.vmin IS NULL OR excluded.vmin < {t}.vmin THEN excluded.vmin ELSE {t}.vmin END",
            "vmax": f"CASE WHEN {t}.vmax IS NULL OR excluded.vmax > {t}.vmax THEN excluded.vmax ELSE {t}.vmax END",
            **{c: _pick(t, last, c) for c in ("last_step", "last_epoch", "last_time", "last_value", "last_special")}}
    return _upsert_sql(t, _BUCKET_COLUMNS, ("run_id", "name", "level", "bucket"), sets, mark)


_UPSERTS = {mark: (_summary_sql(mark), _bucket_sql(mark)) for mark in ("?", "%s")}


def _fold_in(session: Session, rows: list[dict[str, Any]]) -> None:
    """Fold a batch of encoded rows into the summaries (one upsert row per (run, metric)) and the
    pyramid (one upsert row per touched bucket of each level), computed here with numpy: the rows
    are sorted by (run, name, step, arrival) once and every level groups the one below. Both go
    through the driver's executemany, as the raw rows do."""
    conn = session.connection()
    sqlite = conn.dialect.name == "sqlite"
    to_db = None
    if sqlite:  # the column type's own timestamp text, as _insert_raw writes it, once per distinct time
        to_db = Metric.__table__.c.time.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    summaries, buckets = _aggregate(rows, to_db=to_db)
    summary_sql, bucket_sql = _UPSERTS["?" if sqlite else "%s"]
    if sqlite:
        conn.exec_driver_sql(summary_sql, summaries)
        conn.exec_driver_sql(bucket_sql, buckets)
        return
    # PostgreSQL: the summaries as one statement over arrays (unnest); the buckets, many more, by
    # COPY into a session-local temporary table and one upsert from it (about 2.5× faster than unnest)
    cursor = conn.connection.driver_connection.cursor()
    try:
        with cursor:
            if summaries:
                cursor.execute(_PG_SUMMARY, [list(c) for c in zip(*summaries)])
            if buckets:
                cursor.execute(_PG_STAGE)
                with cursor.copy(f"COPY _trainyard_bucket_in ({', '.join(_BUCKET_COLUMNS)}) FROM STDIN") as copy:
                    copy.set_types(_PG_BUCKET_TYPES)  # dumpers chosen once, not per value
                    for row in buckets:
                        copy.write_row(row)
                cursor.execute(_PG_FROM_STAGE)
    except conn.dialect.dbapi.Error as exc:  # recognised (and retried) like any other write, as in _insert_raw
        raise DBAPIError.instance(bucket_sql, None, exc, conn.dialect.dbapi.Error) from exc


_PG_BUCKET_TYPES = ("int4", "text", "int4", "int4", "int4", "float8", "float8", "int4", "int4", "timestamptz", "float8",
                    "text")
_PG_STAGE = ("CREATE TEMPORARY TABLE IF NOT EXISTS _trainyard_bucket_in "
             "(LIKE metric_bucket INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
# the staged rows are moved (deleted as they are upserted), so the stage is empty for the next
# batch of the same transaction without a TRUNCATE (a new file for the table each time)
_PG_FROM_STAGE = (f"WITH moved AS (DELETE FROM _trainyard_bucket_in RETURNING {', '.join(_BUCKET_COLUMNS)}) "
                  f"INSERT INTO metric_bucket ({', '.join(_BUCKET_COLUMNS)}) "
                  f"SELECT {', '.join(_BUCKET_COLUMNS)} FROM moved ON CONFLICT"
                  + _UPSERTS["%s"][1].split(" ON CONFLICT", 1)[1])


def _pg_unnest(sql: str, types: Sequence[str]) -> str:
    """The ``VALUES (%s, ...)`` upsert as ``SELECT * FROM unnest(%s::type[], ...)``."""
    head, tail = sql.split(" VALUES (", 1)
    tail = tail.split(") ON CONFLICT", 1)[1]
    return f"{head} SELECT * FROM unnest({', '.join(f'%s::{t}[]' for t in types)}) ON CONFLICT{tail}"


_PG_SUMMARY = _pg_unnest(_UPSERTS["%s"][0], ("integer", "text", "integer", "integer", "float8", "text", "integer",
                                             "float8", "text", "float8", "integer", "float8", "integer", "integer"))

def _nones(values: np.ndarray) -> list[float | None]:
    """Floats for the database, NaN (no finite value in the group) as None."""
    return [None if v != v else v for v in values.tolist()]


def _aggregate(rows: Sequence[Mapping[str, Any]], levels: Sequence[int] = PYRAMID_LEVELS,
               to_db: Any = None) -> tuple[list[tuple], list[tuple]]:
    """Summary rows (``_SUMMARY_COLUMNS``) and bucket rows (``_BUCKET_COLUMNS``) of a batch."""
    keys: dict[tuple[int, str], int] = {}
    series = np.array([keys.setdefault((r["run_id"], r["name"]), len(keys)) for r in rows], np.int64)
    steps = np.array([r["step"] for r in rows], np.int64)
    values = np.array([r["value"] for r in rows], np.float64)  # None (a non-finite value) → NaN
    order = np.lexsort((np.arange(len(rows)), steps, series))  # by series, step, arrival
    series, steps, values = series[order], steps[order], values[order]
    pairs = list(keys)
    n = len(rows)

    summaries = []
    cut = np.flatnonzero(np.r_[True, series[1:] != series[:-1]])
    for start, end in zip(cut.tolist(), np.r_[cut[1:], n].tolist()):
        first, last = rows[order[start]], rows[order[end - 1]]
        seg = values[start:end]
        lo = hi = None
        if not np.isnan(seg).all():
            lo, hi = start + int(np.nanargmin(seg)), start + int(np.nanargmax(seg))  # the lowest step of a tie
        summaries.append((*pairs[series[start]], end - start, int(steps[start]), first["value"], first["special"],
                          int(steps[end - 1]), last["value"], last["special"],
                          None if lo is None else float(values[lo]), None if lo is None else int(steps[lo]),
                          None if hi is None else float(values[hi]), None if hi is None else int(steps[hi]), 1))

    stamps: dict[Any, Any] = {}

    def stamp(value: Any) -> Any:
        if to_db is None or value is None:
            return value
        if value not in stamps:
            stamps[value] = to_db(value)
        return stamps[value]

    buckets: list[tuple] = []
    # the groups of the level below: series, bucket, count, min, max, sorted index of their last row
    g_series, g_bucket, g_count, g_min, g_max, g_last = series, steps, np.ones(n, np.int64), values, values, np.arange(n)
    shift_from = 0
    for level in levels:
        b = g_bucket >> (level - shift_from)
        cut = np.flatnonzero(np.r_[True, (g_series[1:] != g_series[:-1]) | (b[1:] != b[:-1])])
        ends = np.r_[cut[1:], len(b)] - 1
        g_series, g_bucket = g_series[cut], b[cut]
        g_count = np.add.reduceat(g_count, cut)
        g_min, g_max = np.fmin.reduceat(g_min, cut), np.fmax.reduceat(g_max, cut)
        g_last = g_last[ends]
        shift_from = level
        lasts = [rows[i] for i in order[g_last].tolist()]
        buckets += [(*pairs[sid], level, bk, c, lo, hi, r["step"], r.get("epoch"), stamp(r["time"]), r["value"],
                     r["special"])
                    for sid, bk, c, lo, hi, r in zip(g_series.tolist(), g_bucket.tolist(), g_count.tolist(),
                                                     _nones(g_min), _nones(g_max), lasts)]
    return summaries, buckets


def newest_metric_id(*, session: Session) -> int:
    """The highest metric id: one step down the primary key."""
    return int(session.exec(select(func.max(Metric.id))).first() or 0)


def curve_level(first_step: int | None, last_step: int | None, max_points: int = 1000) -> int | None:
    """The pyramid level a curve over ``first_step..last_step`` is read at: the finest whose
    buckets number at most ``max_points``; None when the raw rows are few enough already."""
    if first_step is None or last_step is None or last_step - first_step + 1 <= max_points:
        return None
    for level in PYRAMID_LEVELS:
        if (last_step >> level) - (first_step >> level) + 1 <= max_points:
            return level
    return PYRAMID_LEVELS[-1]


def curve_points(*, session: Session, series: Iterable[tuple[int, str, int | None]]) -> list[dict[str, Any]]:
    """Points of each ``(run_id, name, level)``: the pyramid's buckets at that level (``step``,
    ``epoch``, ``time``, ``value`` of the bucket's last row, ``min`` and ``max`` of its finite
    values, ``count``), or with level None the raw rows point for point. One query per level
    asked for; a non-finite ``value`` comes back as None (a gap in the line). Sorted by run,
    name, step."""
    by_level: dict[int | None, set[tuple[int, str]]] = {}
    for run_id, name, level in series:
        by_level.setdefault(level, set()).add((run_id, name))
    out: list[dict[str, Any]] = []
    sqlite = session.get_bind().dialect.name == "sqlite"

    def stamp(column):  # SQLite's timestamp text parsed by datetime.fromisoformat (C), not per row in Python
        return type_coerce(column, String) if sqlite else column

    def when(value):
        if not sqlite or value is None:
            return value
        return datetime.fromisoformat(value).replace(tzinfo=timezone.utc)

    for level, pairs in by_level.items():
        ids, names = sorted({p[0] for p in pairs}), sorted({p[1] for p in pairs})
        if level is None:
            m = Metric.__table__.c
            stmt = (select(m.run_id, m.name, m.step, m.epoch, stamp(m.time), m.value, m.id)
                    .where(col(m.run_id).in_(ids), col(m.name).in_(names)))
            out += [{"run_id": r, "name": n, "step": st, "epoch": e, "time": when(t), "value": v, "min": v, "max": v,
                     "count": 1, "_id": i}
                    for r, n, st, e, t, v, i in session.exec(stmt).all() if (r, n) in pairs]
        else:
            b = MetricBucket.__table__.c
            stmt = (select(b.run_id, b.name, b.last_step, b.last_epoch, stamp(b.last_time), b.last_value, b.vmin,
                           b.vmax, b.count, b.bucket)
                    .where(b.level == level, col(b.run_id).in_(ids), col(b.name).in_(names)))
            out += [{"run_id": r, "name": n, "step": st, "epoch": e, "time": when(t), "value": v, "min": lo,
                     "max": hi, "count": c, "_id": bk}
                    for r, n, st, e, t, v, lo, hi, c, bk in session.exec(stmt).all() if (r, n) in pairs]
    out.sort(key=lambda p: (p["run_id"], p["name"], p["step"], p["_id"]))
    for p in out:
        del p["_id"]
    return out


def pyramid_metrics(*, session: Session, run_ids: Iterable[int], names: Iterable[str],
                    max_points: int = 1000) -> list[dict[str, Any]]:
    """``downsampled_metrics`` from the summaries and the pyramid: each series at the level that
    gives it at most ``max_points`` buckets (250 or more when it is longer than that), never
    touching the raw rows of a long series."""
    wanted = list(names)
    return curve_points(session=session, series=[
        (s["run_id"], s["name"], curve_level(s["first_step"], s["last_step"], max_points))
        for s in metric_summaries(session=session, run_ids=run_ids, names=wanted)])
