"""Many runs (issue #22). Two parts, Streamlit's AppTest through ``Home.py`` as a browser opens
pages:

1. Comparison of ``RUNS`` runs × 2 metrics × ``STEPS`` steps, SQLite and PostgreSQL (when the
   local server answers; ``BENCH_MANY_POSTGRES=0`` skips it): the page's first draw (the process
   keeps no curve yet) and a rerun, against the bare summary + pyramid queries for the same runs
   (``queries.metric_summaries`` + ``queries.pyramid_metrics``; on a tree without them, the
   scanning ``metric_summaries`` + ``downsampled_metrics`` the page used). Bars: first draw
   < 1 s, rerun < 0.3 s, ≤ 1,000 points per series, ≤ 2 MB of figures.
2. A database of ``MANY`` runs (1 in 5 with a model version, each with a short curve) and
   ``MANY`` sweeps (1 in 10 a learning-curve study; the first quarter with four trials each):
   first draw of every page that opens without a link (Home, Data Sufficiency, Launch Training,
   Progress, Comparison with three runs by URL, Analyze Drawing, Try Model, Models, Sweeps,
   Learning Curve). Bar: < 0.5 s each.
3. One run with one metric of ``LONG`` points (SQLite, and PostgreSQL as in 1.): the Progress page's first draw of it in a
   dashboard process that keeps no curve of it yet, against reading the metric's summary and one
   page of its pyramid bare. Bar: < 1 s, ≤ 2,000 points in its line.

Sizes: quick 100 × 2 × 5,000, 2,000 runs and 1 M points; ``--full`` 100 × 2 × 20,000, 10,000 runs
and 10 M points.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from bench.harness import installation, line, postgres, size

ROOT = Path(__file__).resolve().parents[1]
RUNS, STEPS, MAX_POINTS = 100, size(5_000, 20_000), 1000
MANY = size(2_000, 10_000)
LONG = size(1_000_000, 10_000_000)
NAMES = ("train/loss", "val/loss")


def _seed_curves() -> tuple[list[int], float]:
    from db import queries
    from db.models import RunStatus, utcnow
    from db.session import session_scope

    ids = []
    t0 = time.perf_counter()
    now = utcnow()
    for r in range(RUNS):
        with session_scope() as s:
            run = queries.create_run(session=s, family="anomaly", config={"learning_rate": 0.001 * (r + 1)},
                                     name=f"bench {r}")
            for start in range(0, STEPS, 1000):  # live-run sized batches: 1,000 steps × 2 metrics
                queries.add_metrics(session=s, rows=[
                    {"run_id": run.id, "step": i, "epoch": i // 100, "name": name,
                     "value": (1.0 + (r % 7)) / (i + 1) + (50.0 if i == 1234 else 0.0), "time": now}
                    for i in range(start, min(STEPS, start + 1000)) for name in NAMES])
            queries.set_run_status(session=s, run_id=run.id, status=RunStatus.completed, summary={"val/loss": 0.1})
        ids.append(run.id)
    return ids, time.perf_counter() - t0


def _bare(ids: list[int]) -> int:
    """The queries alone, at the page's own budget of points a line (the page shares 60,000
    buckets between its lines since #22; before, every line had 1,000)."""
    from db import queries
    from db.session import session_scope

    with session_scope() as s:
        queries.metric_summaries(session=s, run_ids=ids)
        if hasattr(queries, "pyramid_metrics"):
            budget = max(250, min(MAX_POINTS, 60_000 // (2 * len(ids))))
            return len(queries.pyramid_metrics(session=s, run_ids=ids, names=list(NAMES), max_points=budget))
        return len(queries.downsampled_metrics(session=s, run_ids=ids, names=list(NAMES), max_points=MAX_POINTS))


def _forget_curves() -> None:
    """A fresh dashboard process: no curve kept (the trees before #22 keep none)."""
    from ui import comparison

    getattr(comparison, "_SERIES", {}).clear()
    if hasattr(comparison, "_KEPT_POINTS"):
        comparison._KEPT_POINTS[0] = 0


def _length(array) -> int:
    if isinstance(array, dict):
        import base64

        import numpy as np

        return len(np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"]))
    return len(array)


def _open(page: str, params: dict[str, str] | None = None):
    """``page`` opened through Home, then drawn: (AppTest, seconds of the page's draw)."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=300)
    if page == "Home.py":  # Home's own first draw
        t0 = time.perf_counter()
        at.run()
        took = time.perf_counter() - t0
        assert not at.exception, [e.message for e in at.exception]
        return at, took
    at.run()
    at.switch_page(page)
    for k, v in (params or {}).items():
        at.query_params[k] = v
    t0 = time.perf_counter()
    at.run()
    took = time.perf_counter() - t0
    assert not at.exception, [e.message for e in at.exception]
    return at, took


def _figures(at) -> tuple[int, int]:
    specs = [c.proto.spec for c in at.get("plotly_chart")]
    most = max((_length(t.get("y", [])) for spec in specs for t in json.loads(spec)["data"]
                if t.get("type") == "scatter" and t.get("fill") != "toself"), default=0)
    return most, sum(len(spec) for spec in specs)


def measure_comparison(database_url: str | None = None) -> dict[str, float]:
    from jobs.connection import ensure_embedded_redis, stop_embedded_redis

    with installation(database_url):
        os.environ["REDIS_URL"] = ensure_embedded_redis()
        try:
            ids, seed_s = _seed_curves()
            runs = ",".join(map(str, ids))
            _open("pages/4_Model_Comparison.py", {"runs": runs})  # warm-up: imports, SQLite page cache
            bare = min(_timed(lambda: _bare(ids)) for _ in range(3))
            first = rerun = float("inf")
            for _ in range(3):
                _forget_curves()
                at, took = _open("pages/4_Model_Comparison.py", {"runs": runs})
                first = min(first, took)
                t0 = time.perf_counter()
                at.run()
                rerun = min(rerun, time.perf_counter() - t0)
            most, sent = _figures(at)
        finally:
            stop_embedded_redis()
    return {"bare": bare, "first": first, "rerun": rerun, "most": most, "sent": sent, "seed": seed_s}


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _seed_many() -> list[int]:
    from db import queries
    from db.models import RunStatus, utcnow
    from db.session import session_scope

    statuses = [RunStatus.completed, RunStatus.failed, RunStatus.cancelled, RunStatus.completed]
    now = utcnow()
    ids = []
    with session_scope() as s:
        for i in range(MANY):
            run = queries.create_run(session=s, family="anomaly", config={"epochs": 10, "hidden_dims": [256, 128]},
                                     name=f"run {i}", tags=["nightly"] if i % 10 == 0 else ())
            queries.set_run_status(session=s, run_id=run.id, status=statuses[i % 4], progress_done=10,
                                   progress_total=10, summary={"val/loss": 0.1, "val/auroc": 0.9})
            queries.add_metrics(session=s, rows=[{"run_id": run.id, "step": e, "epoch": e, "name": n,
                                                  "value": 1.0 / (e + 1), "time": now}
                                                 for e in range(10) for n in ("val/loss", "val/auroc")])
            if i % 5 == 0:
                queries.register_model_version(session=s, run_id=run.id, family="anomaly", artifact_path="x.pt",
                                               scope=f"{i % 7}-{i % 7 + 3}",
                                               metrics={"val/loss": 0.1, "val/auroc": 0.9})
            ids.append(run.id)
        # as many sweeps as runs: search sweeps of four trials each, every tenth a learning-curve study
        for i in range(MANY):
            sweep = queries.create_sweep(session=s, name=f"sweep {i}", family="anomaly", space={"lr": [0.1, 0.01]},
                                         method="grid", metric="val/loss", direction="minimize", max_trials=4,
                                         parallel=1, pruner="none", kind="curve" if i % 10 == 0 else "search")
            if i < MANY // 4:
                for run_id in ids[4 * i:4 * i + 4]:
                    queries.update_run(session=s, run_id=run_id, sweep_id=sweep.id)
    return ids


def measure_many() -> dict[str, float]:
    from jobs.connection import ensure_embedded_redis, stop_embedded_redis

    with installation():
        os.environ["REDIS_URL"] = ensure_embedded_redis()
        try:
            ids = _seed_many()
            pages = {"Home": ("Home.py", None), "Progress": ("pages/3_Progress.py", None),
                     "Comparison": ("pages/4_Model_Comparison.py", {"runs": ",".join(map(str, ids[-3:]))}),
                     "Models": ("pages/8_Models.py", None), "Sweeps": ("pages/9_Sweeps.py", None),
                     "Learning Curve": ("pages/10_Learning_Curve.py", None),
                     "Data Sufficiency": ("pages/1_Data_Sufficiency.py", None),
                     "Launch Training": ("pages/2_Launch_Training.py", None), "Try Model": ("pages/7_Try_Model.py", None),
                     "Analyze Drawing": ("pages/6_Analyze_Drawing.py", None)}
            for page, params in pages.values():  # warm-up: imports
                _open(page, params)
            out = {}
            for label, (page, params) in pages.items():
                best = float("inf")
                for _ in range(3):
                    _forget_curves()
                    best = min(best, _open(page, params)[1])
                out[label] = best
        finally:
            stop_embedded_redis()
    return out


def _seed_long() -> tuple[int, float]:
    """One run, one metric of ``LONG`` steps (a noisy falling loss with a spike every 1,000,003
    steps), written in live-run sized batches of 200,000 through the real ingest."""
    import numpy as np

    from db import queries
    from db.models import utcnow
    from db.session import session_scope

    t0 = time.perf_counter()
    now = utcnow()
    with session_scope() as s:
        run_id = queries.create_run(session=s, family="anomaly", config={}, name="long").id
    rng = np.random.default_rng(0)
    for start in range(0, LONG, 200_000):
        steps = np.arange(start, min(LONG, start + 200_000))
        values = 1.0 / (1.0 + steps / 1e5) + rng.normal(0, 0.01, len(steps))
        values[steps % 1_000_003 == 17] += 5.0
        with session_scope() as s:
            queries.add_metrics(session=s, rows=[{"run_id": run_id, "step": int(i), "name": "train/loss",
                                                  "value": float(v), "time": now} for i, v in zip(steps, values)])
    return run_id, time.perf_counter() - t0


def _forget_run_curves() -> None:
    """A dashboard process that has drawn none of the run's curves yet."""
    from ui import curves

    curves._KEPT.clear()


def measure_long(database_url: str | None = None) -> dict[str, float]:
    from jobs.connection import ensure_embedded_redis, stop_embedded_redis

    with installation(database_url):
        os.environ["REDIS_URL"] = ensure_embedded_redis()
        try:
            run_id, seed_s = _seed_long()
            from db import queries
            from db.session import session_scope

            def bare() -> None:
                with session_scope() as s:
                    top = queries.metric_summaries(session=s, run_ids=[run_id])[0]
                    level = queries.curve_level(top["first_step"], top["last_step"], queries.CURVE_BUCKETS)
                    queries.curve_points(session=s, series=[(run_id, "train/loss", level)])

            _open("pages/3_Progress.py", {"run": str(run_id)})  # warm-up: imports, the SQLite page cache
            bare_s = min(_timed(bare) for _ in range(3))
            first, most = float("inf"), 0
            for _ in range(3):
                _forget_run_curves()
                at, took = _open("pages/3_Progress.py", {"run": str(run_id)})
                first = min(first, took)
                most = max(most, _figures(at)[0])
        finally:
            stop_embedded_redis()
    return {"bare": bare_s, "first": first, "most": most, "seed": seed_s}


def _databases(pg: str | None, what: str):
    """(label, URL) of SQLite, then of the local PostgreSQL unless none answers or
    ``BENCH_MANY_POSTGRES=0`` (which it says for ``what``)."""
    yield "SQLite", None
    if pg is None or os.environ.get("BENCH_MANY_POSTGRES", "1") == "0":
        print(f"{what}, PostgreSQL: no local server answers (or BENCH_MANY_POSTGRES=0); skipped")
        return
    yield "PostgreSQL", pg


def report() -> list[bool]:
    oks = []
    with postgres() as pg:
        for label, url in _databases(pg, "Comparison page"):
            r = measure_comparison(url)
            ok = r["first"] < 1.0 and r["rerun"] < 0.3 and r["most"] <= 1000 and r["sent"] <= 2_000_000
            print(line(f"Comparison page, {RUNS} runs × {len(NAMES)} metrics × {STEPS:,} steps, first draw, {label}",
                       "bare summary + curve queries", r["bare"], r["first"], "< 1 s", r["first"] < 1.0))
            print(f"  rerun {r['rerun'] * 1000:.0f} ms (bar < 300 ms); {r['most']} points in the longest line "
                  f"(bar ≤ 1,000); {r['sent'] / 1e6:.2f} MB of figures (bar ≤ 2 MB); seeding took {r['seed']:.1f} s: "
                  f"{'met' if ok else 'NOT met'}")
            oks.append(ok)
    many = measure_many()
    for label, took in many.items():
        oks.append(took < 0.5)
        print(f"{label} first draw, {MANY:,} runs and {MANY:,} sweeps in the database: {took * 1000:.0f} ms (bar < 500 ms): "
              f"{'met' if oks[-1] else 'NOT met'}")
    with postgres() as pg:
        for label, url in _databases(pg, "Progress page"):
            r = measure_long(url)
            oks.append(r["first"] < 1.0 and r["most"] <= 2000)
            print(line(f"Progress first draw, one metric of {LONG:,} points, {label}", "bare summary + pyramid read",
                       r["bare"], r["first"], "< 1 s", r["first"] < 1.0))
            print(f"  {r['most']} points in its line (bar ≤ 2,000); seeding took {r['seed']:.1f} s: "
                  f"{'met' if oks[-1] else 'NOT met'}")
    return oks


if __name__ == "__main__":
    report()
