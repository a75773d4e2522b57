"""``submit_run`` → status ``training`` on an idle worker, and a warm prediction on the scoring lane.

Three real workers on one embedded Redis: a warm one (``python -m jobs.worker``: its runs train
in the training interpreter it started ahead) on ``high``, a cold one (``--no-preload``: each
run's work horse starts a fresh interpreter that imports on demand) on ``low``, and a scoring
worker. Baseline: a no-op RQ job's round trip on the warm worker, in the same run. Trainyard:
a toy run submitted to each worker until the database says ``training`` (interleaved), and an
anomaly prediction on the scoring lane once its model is loaded. Before each submit the worker
is idle: its next warm training interpreter has named itself ready (``jobs.child.mark_ready``),
i.e. it has finished its warm-up. Bars: < 0.5 s to training; < 1 s for a warm prediction.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from bench.harness import REPEATS, installation, line, settle

ROOT = Path(__file__).resolve().parents[1]


def _start(*args: str) -> subprocess.Popen:
    from jobs.api import list_workers

    name = f"bench-{uuid.uuid4().hex[:6]}"
    proc = subprocess.Popen([sys.executable, "-m", "jobs.worker", "--name", name, *args], cwd=ROOT,
                            env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not any(w.name == name for w in list_workers()):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("bench worker did not start")
        time.sleep(0.1)
    return proc


def _until(predicate, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("bench: timed out waiting")
        time.sleep(0.005)


def _to_training(priority: str, proc: subprocess.Popen | None = None) -> float:
    from db import queries
    from db.session import session_scope
    from jobs import api

    if proc is not None:
        settle(proc.pid)
    t0 = time.perf_counter()
    run = api.submit_run(family="toy", config={"epochs": 1, "batches": 2}, priority=priority)

    def training() -> bool:
        with session_scope() as s:
            return queries.get_run(session=s, run_id=run.id).status.value in ("training", "completed", "failed")

    _until(training)
    took = time.perf_counter() - t0
    _until(lambda: _finished(run.id))  # idle again before the next submit
    return took


def _finished(run_id: int) -> bool:
    from db import queries
    from db.session import session_scope

    with session_scope() as s:
        return queries.get_run(session=s, run_id=run_id).status.finished


def _noop() -> float:
    from jobs import queues

    t0 = time.perf_counter()
    job = queues.enqueue(queues.queue("high"), "os.getpid")
    _until(lambda: job.get_status(refresh=True) == "finished")
    return time.perf_counter() - t0


def measure() -> dict[str, float]:
    from jobs.connection import ensure_embedded_redis, stop_embedded_redis

    with installation():
        os.environ["TRAINYARD_EXTRA_FAMILIES"] = "tests.fixtures.toy_family"
        os.environ["REDIS_URL"] = ensure_embedded_redis()
        from engine.families import load_plugins

        load_plugins()
        procs = [_start("--queues", "high"), _start("--queues", "low", "--no-preload"), _start("--scoring")]
        try:
            best = {"noop": float("inf"), "warm": float("inf"), "cold": float("inf")}
            _to_training("high", procs[0])  # the first job of a worker is not what an analyst waits on twice
            for _ in range(REPEATS):
                best["noop"] = min(best["noop"], _noop())
                best["warm"] = min(best["warm"], _to_training("high", procs[0]))
                best["cold"] = min(best["cold"], _to_training("low", procs[1]))
            best.update(_scoring())
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(timeout=60)
            stop_embedded_redis()
    return best


def _scoring() -> dict[str, float]:
    import io
    import tempfile

    from PIL import Image

    from jobs import api
    from tests.jobs.test_scoring_lane import _anomaly_model

    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (250, 250, 250)).save(buf, format="PNG")
    payload = {"image": buf.getvalue(), "age": 4.0}
    with tempfile.TemporaryDirectory() as folder:
        mv_id = _anomaly_model(Path(folder))
        t0 = time.perf_counter()
        api.request_prediction(mv_id, payload)
        cold = time.perf_counter() - t0
        warm = float("inf")
        for _ in range(REPEATS):
            t0 = time.perf_counter()
            api.request_prediction(mv_id, payload)
            warm = min(warm, time.perf_counter() - t0)
    return {"score_cold": cold, "score_warm": warm}


def report() -> list[bool]:
    r = measure()
    ok = r["warm"] < 0.5
    print(line("submit_run → training, idle worker (toy)", "no-op RQ job", r["noop"], r["warm"], "< 0.5 s", ok))
    print(f"  a worker without a warm training interpreter (--no-preload): {r['cold'] * 1000:.0f} ms")
    ok2 = r["score_warm"] < 1.0
    print(line("prediction on the scoring lane, warm (anomaly)", "no-op RQ job", r["noop"], r["score_warm"],
               "< 1 s", ok2))
    print(f"  first prediction of that model (loads it): {r['score_cold'] * 1000:.0f} ms")
    return [ok, ok2]


if __name__ == "__main__":
    report()
