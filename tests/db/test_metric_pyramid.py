"""Summaries and the curve pyramid kept at ingest equal what the raw rows say, on SQLite and
PostgreSQL: after random interleaved batches (steps out of order, repeated steps, NaN and
infinities, spikes), after a resume that replaces the steps after a checkpoint, and after the
migration backfills them for rows written before it."""
from __future__ import annotations

import math
import random
from datetime import timedelta

import pytest
from sqlmodel import select

from db import queries
from db.migrate import upgrade
from db.models import MetricBucket, utcnow
from db.nonfinite import encode_float
from db.queries import metrics as mq
from db.session import session_scope
from tests.db.test_comparison_queries import db_url  # noqa: F401  (fixture: sqlite and postgresql)

NAMES = ("train/loss", "val/acc", "lr")


def oracle(url: str, run_id: int) -> tuple[dict, dict]:
    """Summaries and every level's buckets computed in Python from the raw rows, in insertion order."""
    with session_scope(url) as s:
        rows = [(r.name, r.step, r.epoch, r.time, r.value) for r in queries.metric_rows(session=s, run_id=run_id)]
    rows.sort(key=lambda r: (r[0], r[1]))  # stable: rows of one step keep their insertion (id) order
    summaries: dict = {}
    buckets: dict = {}
    for name, step, epoch, time, value in rows:
        finite = value is not None and math.isfinite(value)
        s = summaries.setdefault(name, {"count": 0, "first_step": step, "first": value, "min": None, "max": None,
                                        "min_step": None, "max_step": None})
        s["count"] += 1
        s["last_step"], s["last"] = step, value
        if finite and (s["min"] is None or value < s["min"]):
            s["min"], s["min_step"] = value, step
        if finite and (s["max"] is None or value > s["max"]):
            s["max"], s["max_step"] = value, step
        for level in queries.PYRAMID_LEVELS:
            b = buckets.setdefault((name, level, step >> level), {"count": 0, "vmin": None, "vmax": None})
            b["count"] += 1
            if finite:
                b["vmin"] = value if b["vmin"] is None else min(b["vmin"], value)
                b["vmax"] = value if b["vmax"] is None else max(b["vmax"], value)
            b["last_step"], b["last_epoch"], b["last"] = step, epoch, encode_float(value)
            b["last_time"] = time
    return summaries, buckets


def stored(url: str, run_id: int) -> tuple[dict, dict]:
    with session_scope(url) as s:
        summaries = {x["name"]: x for x in queries.metric_summaries(session=s, run_ids=[run_id])}
        buckets = {(b.name, b.level, b.bucket): {"count": b.count, "vmin": b.vmin, "vmax": b.vmax,
                                                 "last_step": b.last_step, "last_epoch": b.last_epoch,
                                                 "last": (b.last_value, b.last_special), "last_time": b.last_time}
                   for b in s.exec(select(MetricBucket).where(MetricBucket.run_id == run_id))}
    return summaries, buckets


def same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def check(url: str, run_id: int) -> None:
    want_s, want_b = oracle(url, run_id)
    got_s, got_b = stored(url, run_id)
    assert set(got_s) == set(want_s)
    for name, w in want_s.items():
        g = got_s[name]
        for key in ("count", "first_step", "first", "last_step", "last", "min", "max", "min_step", "max_step"):
            assert same(g[key], w[key]), (name, key, g[key], w[key])
    assert set(got_b) == set(want_b)
    for key, w in want_b.items():
        g = got_b[key]
        assert (g["count"], g["vmin"], g["vmax"], g["last_step"], g["last_epoch"], g["last"]) == \
               (w["count"], w["vmin"], w["vmax"], w["last_step"], w["last_epoch"], w["last"]), key
        assert abs((g["last_time"] - w["last_time"]).total_seconds()) < 1e-3, key


def random_batches(rng: random.Random, run_id: int, t0, steps: int, batches: int) -> list[list[dict]]:
    """Rows for every metric over ``steps`` steps, with spikes, NaN/inf and a few repeated steps,
    shuffled into ``batches`` batches that interleave the metrics and arrive partly out of order."""
    rows = []
    for name in NAMES:
        for step in range(0, steps, 1 if name != "lr" else 7):
            roll = rng.random()
            value = (float("nan") if roll < 0.01 else float("inf") if roll < 0.015 else float("-inf") if roll < 0.02
                     else rng.choice([1e6, -1e6]) if roll < 0.025 else rng.gauss(0, 1))
            rows.append({"run_id": run_id, "step": step, "epoch": step // 100, "name": name, "value": value,
                         "time": t0 + timedelta(seconds=step)})
            if rng.random() < 0.01:  # the same step logged again
                rows.append({**rows[-1], "value": rng.gauss(5, 1)})
    cuts = sorted(rng.sample(range(1, len(rows)), batches - 1))
    chunks = [rows[a:b] for a, b in zip([0, *cuts], [*cuts, len(rows)])]
    for chunk in chunks:
        rng.shuffle(chunk)  # within a batch, any order
    return chunks


def test_summaries_and_pyramid_equal_the_raw_rows_after_random_batches_and_a_resume(db_url):
    rng = random.Random(22)
    t0 = utcnow()
    with session_scope(db_url) as s:
        run = queries.create_run(session=s, family="toy", config={}).id
        other = queries.create_run(session=s, family="toy", config={}).id
    mine, theirs = random_batches(rng, run, t0, 3_000, 40), random_batches(rng, other, t0, 500, 5)
    for i, batch in enumerate(mine):
        with session_scope(db_url) as s:
            queries.add_metrics(session=s, rows=batch + (theirs[i] if i < len(theirs) else []))
    check(db_url, run)
    check(db_url, other)

    # a resume from a checkpoint at an unaligned step, then the trainer logs those steps again
    for checkpoint in (2_345, 2_047, 511):
        with session_scope(db_url) as s:
            queries.delete_metrics_after(session=s, run_id=run, step=checkpoint)
        check(db_url, run)
        with session_scope(db_url) as s:
            queries.add_metrics(session=s, rows=[{"run_id": run, "step": step, "epoch": step // 100, "name": name,
                                                  "value": rng.gauss(10, 1), "time": t0 + timedelta(seconds=step)}
                                                 for step in range(checkpoint + 1, checkpoint + 300) for name in NAMES])
        check(db_url, run)
    check(db_url, other)  # untouched by the other run's resume


def test_the_pyramid_read_keeps_spikes_and_agrees_with_a_bucketed_query_over_raw_rows(db_url):
    values = [float(i % 10) for i in range(25_001)]
    values[1_234], values[20_001], values[7_000] = -100.0, 1e6, float("nan")
    t0 = utcnow()
    with session_scope(db_url) as s:
        run = queries.create_run(session=s, family="toy", config={}).id
        queries.add_metrics(session=s, rows=[{"run_id": run, "step": 7 + i, "epoch": i // 100, "name": "train/loss",
                                              "value": v, "time": t0 + timedelta(seconds=i)}
                                             for i, v in enumerate(values)])
        short = queries.create_run(session=s, family="toy", config={}).id
        queries.add_metrics(session=s, rows=[{"run_id": short, "step": i, "name": "train/loss", "value": v}
                                             for i, v in enumerate([3.0, float("inf"), 1.0])])
    with session_scope(db_url) as s:
        points = queries.pyramid_metrics(session=s, run_ids=[run, short], names=["train/loss"], max_points=1000)
        (summary,) = queries.metric_summaries(session=s, run_ids=[run])
    level = queries.curve_level(summary["first_step"], summary["last_step"], 1000)
    long_points = [p for p in points if p["run_id"] == run]
    assert level == 5 and 250 <= len(long_points) <= 1000
    assert min(p["min"] for p in long_points) == -100.0 and max(p["max"] for p in long_points) == 1e6
    # each bucket against the raw rows of its steps
    width = 2 ** level
    for p in long_points:
        b = p["step"] // width
        raw = [v for i, v in enumerate(values) if (7 + i) // width == b]
        finite = [v for v in raw if math.isfinite(v)]
        assert (p["count"], p["min"], p["max"]) == (len(raw), min(finite), max(finite))
        last = values[p["step"] - 7]
        assert p["step"] == min(7 + 25_000, (b + 1) * width - 1)
        assert p["value"] == (last if math.isfinite(last) else None)  # a NaN last row: a gap in the line
    assert [(p["step"], p["value"]) for p in points if p["run_id"] == short] == [(0, 3.0), (1, None), (2, 1.0)]
    assert (summary["count"], summary["min"], summary["max"], summary["last"]) == (25_001, -100.0, 1e6, values[-1])


def test_non_finite_last_and_first_values_read_back_as_such(db_url):
    with session_scope(db_url) as s:
        run = queries.create_run(session=s, family="toy", config={}).id
        queries.add_metrics(session=s, rows=[{"run_id": run, "step": 0, "name": "loss", "value": float("-inf")},
                                             {"run_id": run, "step": 1, "name": "loss", "value": 2.0},
                                             {"run_id": run, "step": 2, "name": "loss", "value": float("nan")}])
    with session_scope(db_url) as s:
        (x,) = queries.metric_summaries(session=s, run_ids=[run])
    assert x["first"] == float("-inf") and math.isnan(x["last"]) and (x["min"], x["max"], x["count"]) == (2.0, 2.0, 3)


def test_the_migration_backfills_rows_written_before_it(tmp_path):
    url = f"sqlite:///{tmp_path / 'b.db'}"
    upgrade(url, revision="0015_workers_resources")  # the revision before the pyramid's
    rng = random.Random(7)
    t0 = utcnow()
    with session_scope(url) as s:
        run = queries.create_run(session=s, family="toy", config={}).id
        rows = [r for batch in random_batches(rng, run, t0, 1_500, 3) for r in batch]
        mq._insert_raw(s, [mq._encoded(r, t0) for r in rows])  # the ingest before 0016
    upgrade(url)
    check(url, run)


def test_a_long_runs_first_draw_from_the_pyramid_equals_grouping_its_rows_and_keeps_merging(db_url, monkeypatch):
    from ui import curves

    rng = random.Random(3)
    with session_scope(db_url) as s:
        run = queries.create_run(session=s, family="toy", config={}).id
    batches = random_batches(rng, run, utcnow(), 6_000, 6)

    def both() -> tuple:
        monkeypatch.setattr(curves, "PYRAMID_FROM", 0)
        fast = curves.RunCurves(run)
        with session_scope(db_url) as s:
            fast.refresh(s)
        monkeypatch.setattr(curves, "PYRAMID_FROM", 10**12)
        slow = curves.RunCurves(run, width=fast.width)  # the same width, from the rows
        with session_scope(db_url) as s:
            slow.refresh(s)
        return fast, slow

    for batch in batches[:4]:
        with session_scope(db_url) as s:
            queries.add_metrics(session=s, rows=batch)
    fast, slow = both()
    assert fast.width == 2 ** 3 and fast.names == slow.names and fast.latest == slow.latest
    for batch in batches[4:]:  # a live run: later rows merge into the pyramid's buckets
        with session_scope(db_url) as s:
            queries.add_metrics(session=s, rows=batch)
        with session_scope(db_url) as s:
            fast.refresh(s)
            slow.refresh(s)
    assert fast.names == slow.names and fast.series() == slow.series()
