"""Metric logging: DbRunContext's batched writes against one transaction per metric row.

Both write the same rows (``EPOCHS`` steps × ``NAMES`` metrics) into a fresh SQLite database
in WAL mode; the number that matters is the ratio, measured in the same run.
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

STEPS, NAMES = 2000, ("train/loss", "val/loss", "lr", "val/acc")


def main() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as home:
        os.environ["TRAINYARD_HOME"] = home
        os.environ.pop("DATABASE_URL", None)
        from settings import get_settings

        get_settings.cache_clear()
        from db import queries
        from db.migrate import upgrade
        from db.session import session_scope
        from jobs.context import DbRunContext

        upgrade()
        with session_scope() as s:
            a = queries.create_run(session=s, family="bench", config={}).id
            b = queries.create_run(session=s, family="bench", config={}).id

        t0 = time.perf_counter()
        for step in range(STEPS):
            for name in NAMES:
                with session_scope() as s:
                    queries.add_metrics(session=s, rows=[{"run_id": a, "step": step, "name": name, "value": 1.0}])
        baseline = time.perf_counter() - t0

        ctx = DbRunContext(b, out_dir=Path(home) / "out")
        ctx._training = True  # the status write is not what is measured
        t0 = time.perf_counter()
        for step in range(STEPS):
            ctx.log({name: 1.0 for name in NAMES}, step=step)
        ctx.flush()
        batched = time.perf_counter() - t0

        with session_scope() as s:
            assert len(queries.metric_rows(session=s, run_id=b)) == len(queries.metric_rows(session=s, run_id=a))
    rows = STEPS * len(NAMES)
    return {"rows": rows, "per_row_s": baseline, "batched_s": batched, "speedup": baseline / batched}


def report() -> None:
    r = main()
    print(f"metric writes, {r['rows']} rows: one transaction per row {r['per_row_s']:.2f} s, "
          f"batched {r['batched_s']:.2f} s → {r['speedup']:.1f}× faster")


if __name__ == "__main__":
    report()
