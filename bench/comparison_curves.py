"""Comparison curves: points a page receives with bucketing in the database against reading every
row, for ``RUNS`` runs of ``STEPS`` steps each (SQLite in WAL mode, fresh database).

What matters: the bucketed read returns at most ``MAX_POINTS`` points per series whatever the
history's length, and takes less time than fetching every row the browser would otherwise get.
"""
from __future__ import annotations

import os
import tempfile
import time

RUNS, STEPS, MAX_POINTS = 50, 20_000, 1000


def main() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as home:
        os.environ["TRAINYARD_HOME"] = home
        os.environ.pop("DATABASE_URL", None)
        from settings import get_settings

        get_settings.cache_clear()
        from db import queries
        from db.migrate import upgrade
        from db.session import session_scope

        upgrade()
        ids = []
        for _ in range(RUNS):
            with session_scope() as s:
                run = queries.create_run(session=s, family="bench", config={})
                ids.append(run.id)
                queries.add_metrics(session=s, rows=[{"run_id": run.id, "step": i, "name": "train/loss",
                                                      "value": 1.0 / (i + 1)} for i in range(STEPS)])
        t0 = time.perf_counter()
        with session_scope() as s:
            raw = sum(len(queries.metric_rows(session=s, run_id=i, names=["train/loss"])) for i in ids)
        raw_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        with session_scope() as s:
            points = queries.downsampled_metrics(session=s, run_ids=ids, names=["train/loss"], max_points=MAX_POINTS)
        bucketed_s = time.perf_counter() - t0
    return {"rows": raw, "points": len(points), "raw_s": raw_s, "bucketed_s": bucketed_s}


def report() -> None:
    r = main()
    print(f"comparison curves, {RUNS} runs × {STEPS} steps: every row {r['rows']} points in {r['raw_s']:.2f} s, "
          f"bucketed {r['points']} points (≤ {MAX_POINTS}/series) in {r['bucketed_s']:.2f} s")


if __name__ == "__main__":
    report()
