"""A run's record never lies about its execution (issue 7, parts 3 and 4).

Real worker processes, a real database and a real embedded Redis — this module's own, in a
temporary home, because some tests kill that Redis (the session ``stack`` is left alone).
No page is open at any point: what fails lost runs is the workers' own machinery.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest

from tests.conftest import FIXTURE_FAMILIES, ROOT, _reset_caches, create_postgres_database, wait_for_status

LOST_WITHIN_S = 30.0
SLOW = {"epochs": 40, "batches": 5, "sleep_s": 0.1}  # ~20 s unless stopped


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A private installation: its own home, database and embedded Redis, and one bystander
    worker on the ``high`` queue only (it takes no run here; its reaper thread is what notices
    lost runs, as any other worker of a deployment would)."""
    home = Path(tmp_path_factory.mktemp("lifecycle-home"))
    saved = dict(os.environ)
    os.environ.update({"TRAINYARD_HOME": str(home), "TRAINYARD_EXTRA_FAMILIES": FIXTURE_FAMILIES,
                       "TRAINYARD_RESOURCE_INTERVAL": "0.3"})
    os.environ.pop("REDIS_URL", None)
    drop = None
    if saved.get("DATABASE_URL", "").startswith("postgres"):
        os.environ["DATABASE_URL"], drop = create_postgres_database(saved["DATABASE_URL"])
    else:
        os.environ.pop("DATABASE_URL", None)
    _reset_caches()
    from db.migrate import upgrade
    from engine.families import load_plugins
    from jobs.connection import ensure_embedded_redis, stop_embedded_redis

    load_plugins()
    upgrade()
    os.environ["REDIS_URL"] = ensure_embedded_redis()
    _reset_caches()
    bystander = start_worker(home, "bystander", queues="high")
    yield home
    stop(bystander)
    from settings import get_settings

    stop_embedded_redis(get_settings())
    os.environ.clear()
    os.environ.update(saved)
    if drop:
        drop()
    _reset_caches()


def start_worker(home: Path, prefix: str, *, queues: str = "default,low") -> subprocess.Popen:
    from jobs.api import list_workers

    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    log = open(home / f"{name}.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "jobs.worker", "--name", name, "--queues", queues],
                            cwd=ROOT, env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT)
    proc.name = name
    deadline = time.monotonic() + 60
    while not any(w.name == name for w in list_workers()):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"worker did not start:\n{(home / f'{name}.log').read_text()}")
        time.sleep(0.1)
    return proc


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def horse_of(worker: subprocess.Popen, timeout: float = 30.0) -> psutil.Process:
    """The worker's work horse: its fork (same command line), not the training interpreters it
    starts ahead (``python -m jobs.child``)."""
    deadline = time.monotonic() + timeout
    mine = psutil.Process(worker.pid).cmdline()
    while time.monotonic() < deadline:
        for child in psutil.Process(worker.pid).children():
            try:
                if child.cmdline() == mine:
                    return child
            except psutil.Error:
                pass
        time.sleep(0.05)
    raise AssertionError("the worker forked no work horse")


def training_process(run_id: int) -> psutil.Process:
    from jobs.manifest import manifest_of

    return psutil.Process(manifest_of(run_id)["process"]["pid"])


def wait_training(run_id: int) -> None:
    from db.models import RunStatus

    run = wait_for_status(run_id, [RunStatus.training, RunStatus.completed, RunStatus.failed], timeout=60)
    assert run.status == RunStatus.training, (run.status, run.error)


def test_killed_work_horse_fails_the_run_as_worker_lost(home):
    from db.models import RunStatus
    from jobs import api

    worker = start_worker(home, "horse")
    try:
        run = api.submit_run(family="toy", config=SLOW)
        wait_training(run.id)
        horse = horse_of(worker)
        trainer = training_process(run.id)
        horse.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        done = wait_for_status(run.id, [RunStatus.failed, RunStatus.completed], timeout=LOST_WITHIN_S)
        took = time.monotonic() - killed
        print(f"horse SIGKILL -> failed after {took:.2f} s: {done.error}")
        assert done.status == RunStatus.failed
        assert done.error.startswith("worker lost:") and "signal 9" in done.error, done.error
        assert took < LOST_WITHIN_S
        psutil.wait_procs([trainer], timeout=10)  # the training process went with its horse
        assert not trainer.is_running() or trainer.status() == psutil.STATUS_ZOMBIE
        # the worker itself lives on, idle, ready for the next run
        listed = {w.name: w for w in api.list_workers()}
        assert worker.name in listed and listed[worker.name].current_run is None
    finally:
        stop(worker)


def test_killed_worker_fails_the_run_stops_its_orphan_and_leaves_the_worker_list(home):
    from db.models import RunStatus
    from jobs import api

    worker = start_worker(home, "doomed")
    run = api.submit_run(family="toy", config=SLOW)
    wait_training(run.id)
    horse = horse_of(worker)
    trainer = training_process(run.id)
    assert any(w.name == worker.name and w.current_run == run.id for w in api.list_workers())
    worker.send_signal(signal.SIGKILL)  # the worker process only: its horse is orphaned, still training
    killed = time.monotonic()
    done = wait_for_status(run.id, [RunStatus.failed, RunStatus.completed], timeout=LOST_WITHIN_S)
    assert done.status == RunStatus.failed, done.error
    assert done.error.startswith("worker lost:") and worker.name in done.error, done.error
    took = time.monotonic() - killed
    print(f"worker SIGKILL -> failed after {took:.2f} s: {done.error}")
    assert took < LOST_WITHIN_S
    assert worker.name not in {w.name for w in api.list_workers()}
    # the orphaned horse notices its attempt is void and stops without writing more
    with_steps = _steps(run.id)
    psutil.wait_procs([horse, trainer], timeout=10)
    for proc in (horse, trainer):
        assert not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE
    time.sleep(0.5)
    assert _steps(run.id) == with_steps
    worker.wait()


def _steps(run_id: int) -> list[int]:
    from db import queries
    from db.session import session_scope

    with session_scope() as s:
        return [m.step for m in queries.metric_rows(session=s, run_id=run_id, names=["val/loss"])]


def test_a_run_declared_lost_then_resumed_never_runs_twice(home):
    """The old execution is still alive when the run is resumed: it must stop (no duplicate
    steps, one model version). Today it keeps going: 16 duplicate steps, 2 model versions."""
    from db import queries
    from db.models import RunStatus
    from db.session import session_scope
    from jobs import api
    from jobs.queues import fetch_job

    workers = [start_worker(home, "twin"), start_worker(home, "twin")]
    try:
        epochs = 6
        run = api.submit_run(family="toy", config={"epochs": epochs, "batches": 3, "sleep_s": 0.15})
        wait_training(run.id)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with session_scope() as s:
                if queries.latest_checkpoint(session=s, run_id=run.id):
                    break
            time.sleep(0.05)
        with session_scope() as s:  # what an impatient reaper or an operator did to a live run
            queries.set_run_status(session=s, run_id=run.id, status=RunStatus.failed, error="declared lost")
            first_job = queries.get_run(session=s, run_id=run.id).job_id
        old = fetch_job(first_job)
        deadline = time.monotonic() + 5
        while old.get_status(refresh=True).value == "started" and time.monotonic() < deadline:
            time.sleep(0.1)
        api.resume_run(run.id)
        done = wait_for_status(run.id, [RunStatus.completed, RunStatus.failed], timeout=90)
        assert done.status == RunStatus.completed, done.error
        time.sleep(1.5)  # give a surviving old execution the chance to write more
        assert _steps(run.id) == list(range(epochs))
        with session_scope() as s:
            versions = [v for v in queries.list_model_versions(session=s, family="toy") if v.run_id == run.id]
            steps = [c.step for c in queries.list_checkpoints(session=s, run_id=run.id)]
        assert len(versions) == 1
        assert len(steps) == len(set(steps)), steps
        assert old.get_status(refresh=True).value == "finished" and old.return_value() == "stale"
    finally:
        for w in workers:
            stop(w)


def test_stale_attempt_writes_nothing_and_a_stale_job_never_starts(home, tmp_path):
    from db import queries
    from db.models import RunStatus
    from db.session import session_scope
    from jobs.context import DbRunContext, StaleAttempt
    from jobs.tasks import execute_run

    with session_scope() as s:
        run = queries.create_run(session=s, family="toy", config={"epochs": 1})
        attempt = queries.bump_attempt(session=s, run_id=run.id)
        queries.set_run_status(session=s, run_id=run.id, status=RunStatus.training)
    ctx = DbRunContext(run.id, out_dir=tmp_path, attempt=attempt, poll_s=0.0, flush_s=0.0)
    ctx.log({"loss": 1.0}, step=0)
    assert not ctx.should_stop()
    with session_scope() as s:  # a resume elsewhere starts attempt + 1
        queries.bump_attempt(session=s, run_id=run.id)
    with pytest.raises(StaleAttempt):
        ctx.should_stop()
    for write in (lambda: ctx.log({"loss": 0.5}, step=1), lambda: ctx.progress(1, 2), ctx.flush,
                  lambda: ctx.checkpoint(tmp_path / "x.pt", step=1)):
        with pytest.raises(StaleAttempt):
            write()
    with session_scope() as s:
        assert [m.step for m in queries.metric_rows(session=s, run_id=run.id)] == [0]
        assert queries.list_checkpoints(session=s, run_id=run.id) == []
        assert queries.get_run(session=s, run_id=run.id).status == RunStatus.training
        queries.set_run_status(session=s, run_id=run.id, status=RunStatus.pending)
    assert execute_run(run.id, attempt, capture=False) == "stale"  # a job left over from the old attempt
    with session_scope() as s:
        assert queries.get_run(session=s, run_id=run.id).status == RunStatus.pending
        queries.set_run_status(session=s, run_id=run.id, status=RunStatus.cancelled)


def _redis_pid(home: Path) -> int:
    return int((home / "redis.pid").read_text())


def test_submit_with_redis_down_fails_cleanly_and_leaves_no_row(home):
    from db import queries
    from db.session import session_scope
    from jobs import api
    from jobs.connection import QueueUnavailable, ensure_embedded_redis

    with session_scope() as s:
        before = len(queries.list_runs(session=s, limit=10_000))
    os.kill(_redis_pid(home), signal.SIGKILL)
    time.sleep(0.2)
    try:
        with pytest.raises(QueueUnavailable, match=r"the queue \(Redis at unix://.*\) is not reachable; nothing was queued"):
            api.submit_run(family="toy", config={"epochs": 1})
        with session_scope() as s:
            assert len(queries.list_runs(session=s, limit=10_000)) == before
    finally:
        ensure_embedded_redis()


def test_queued_runs_survive_kill_9_of_the_embedded_redis(home):
    from db import queries
    from db.models import RunStatus
    from db.session import session_scope
    from jobs import api
    from jobs.connection import get_redis
    from jobs.supervisor import Supervisor, recent_events

    runs = [api.submit_run(family="toy", config={"epochs": 1, "seed": i}, priority="low") for i in range(2)]
    os.kill(_redis_pid(home), signal.SIGKILL)  # no worker listens on 'low' yet: both are queued
    time.sleep(0.2)
    events = Supervisor(env=os.environ, worker_names=[]).check()
    assert any(e.startswith("Redis restarted") for e in events), events
    assert any("Redis restarted" in e["text"] for e in recent_events())
    assert api.queue_depths()["low"] == 2
    # a queued run whose job did vanish (e.g. lost before AOF existed) is queued again on reconcile
    lost = runs[0]
    get_redis().delete(f"rq:job:{lost.job_id}")
    get_redis().lrem("rq:queue:low", 0, lost.job_id)
    from jobs.reaper import reconcile

    assert reconcile(requeue_after_s=0)["requeued"] == [lost.id]
    worker = start_worker(home, "after", queues="low")
    try:
        for run in runs:
            done = wait_for_status(run.id, [RunStatus.completed, RunStatus.failed], timeout=90)
            assert done.status == RunStatus.completed, done.error
        with session_scope() as s:
            assert queries.get_run(session=s, run_id=lost.id).attempt == 2
    finally:
        stop(worker)


def test_supervisor_restarts_a_dead_worker_and_says_so(home):
    from jobs import api
    from jobs.supervisor import Supervisor, recent_events

    name = f"supervised-{uuid.uuid4().hex[:6]}"
    sup = Supervisor(env=os.environ, worker_names=[name], cwd=str(ROOT))
    sup.start_workers()
    try:
        deadline = time.monotonic() + 60
        while name not in {w.name for w in api.list_workers()}:
            assert time.monotonic() < deadline, "supervised worker did not start"
            time.sleep(0.1)
        first = sup.workers[name]
        first.send_signal(signal.SIGKILL)
        first.wait()
        events = sup.check()
        assert events == [e for e in events if e.startswith(f"worker {name} restarted")] and events
        assert "signal 9" in events[0]
        assert recent_events()[0]["text"] == events[0]
        deadline = time.monotonic() + 60
        while name not in {w.name for w in api.list_workers()}:
            assert time.monotonic() < deadline, "the restarted worker did not register"
            time.sleep(0.1)
        assert sup.workers[name].pid != first.pid and sup.workers[name].poll() is None
    finally:
        sup.stop()
