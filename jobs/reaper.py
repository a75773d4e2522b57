"""Lost runs: a run whose execution died is marked ``failed`` ("worker lost: …") without any
page being open, and a queued run whose job vanished is queued again.

Three ways in, fastest first:

- ``horse_killed``: ``python -m jobs.worker``'s work-horse-killed handler, the instant its
  work horse dies (SIGKILL, OOM killer);
- ``job_failed`` / ``job_stopped``: RQ callbacks enqueued with every run (they also fire when
  RQ's registry cleanup finds a job abandoned by a dead worker, and under a plain ``rq worker``);
- ``reap``: a sweep every few seconds (a thread in each worker, the launcher's supervisor) that
  checks every unfinished run against RQ's view of its job and worker, and its heartbeat.

Every write is a compare-and-set on the run's attempt and status, so a late or duplicated
verdict never overwrites a run that moved on (resumed, completed).
"""
from __future__ import annotations

import logging
import threading
from typing import Any

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Worker
from rq.exceptions import DeserializationError
from rq.job import Job, JobStatus

from db import queries
from db.models import Run, RunStatus
from db.session import session_scope
from jobs import liveness, queues
from jobs.connection import get_redis
from jobs.enqueue import RUN_FUNC, enqueue_run_attempt

log = logging.getLogger("trainyard.reaper")

LOST_AFTER_S = 20.0  # run heartbeat (resource sampler, every few s) silent this long: lost
REAP_EVERY_S = 5.0
REQUEUE_AFTER_S = 10.0  # a pending run's job must have had time to reach Redis
HINT = "; resume it from its last checkpoint or retry it"


def _run_of(job: Job) -> tuple[int, int | None] | None:
    """``(run_id, attempt)`` of a run job, None for any other job (and for one that is not JSON:
    the worker refused it, so it never ran)."""
    try:
        if job.func_name != RUN_FUNC or not job.args:
            return None
    except DeserializationError:
        return None
    return int(job.args[0]), (int(job.args[1]) if len(job.args) > 1 else None)


def fail_lost(run_id: int, reason: str, *, attempt: int | None = None,
              statuses=queries.UNFINISHED) -> bool:
    """Mark the run failed with ``worker lost: reason`` unless it finished or moved to another attempt."""
    with session_scope() as s:
        if attempt is None:
            state = queries.attempt_state(session=s, run_id=run_id)
            if state is None:
                return False
            attempt = state[0]
        done = queries.set_status_if_current(session=s, run_id=run_id, attempt=attempt, status=RunStatus.failed,
                                             statuses=statuses, error=f"worker lost: {reason}{HINT}",
                                             eta_s=None, phase=None)
    if done:
        log.warning("run %s attempt %s failed: worker lost: %s", run_id, attempt, reason)
        from jobs import notify

        notify.run_ended(run_id)
    return done


# ---- RQ hooks ---------------------------------------------------------------------------------


def horse_killed(job: Job, retpid: int, ret_val: int, rusage: Any, *, worker_name: str = "") -> None:
    """Work-horse-killed handler: the worker saw its horse die before the job returned."""
    run = _run_of(job)
    if run is None:
        return
    import os
    import signal

    if os.WIFSIGNALED(ret_val):
        sig = os.WTERMSIG(ret_val)
        try:
            how = f"killed by signal {sig} ({signal.Signals(sig).name})"
        except ValueError:
            how = f"killed by signal {sig}"
    else:
        how = f"exited with status {os.WEXITSTATUS(ret_val) if os.WIFEXITED(ret_val) else ret_val}"
    fail_lost(run[0], f"the work horse (pid {retpid}) of worker {worker_name or job.worker_name or '?'} was {how}",
              attempt=run[1])


def job_failed(job: Job, connection: Redis, exc_type=None, exc_value=None, tb=None) -> None:
    """RQ ``on_failure`` callback: the job raised, or RQ found it abandoned."""
    run = _run_of(job)
    if run is None:
        return
    name = getattr(exc_type, "__name__", "error")
    if name == "AbandonedJobError":
        reason = f"RQ found job {job.id} abandoned (its worker {job.worker_name or '?'} stopped heartbeating)"
    else:
        reason = f"the job raised {name}: {exc_value}"
    fail_lost(run[0], reason, attempt=run[1])


def job_stopped(job: Job, connection: Redis) -> None:
    """RQ ``on_stopped`` callback: someone stopped the job through RQ (``rq`` stop command)."""
    run = _run_of(job)
    if run is None:
        return
    fail_lost(run[0], f"job {job.id} was stopped through RQ and its work horse terminated", attempt=run[1])


# ---- the sweep --------------------------------------------------------------------------------


def _job_error(job: Job) -> str:
    result = job.latest_result()
    text = (result.exc_string or "").strip() if result is not None else ""
    last = text.splitlines()[-1] if text else ""
    return f"RQ marked job {job.id} {job.get_status(refresh=False).value}" + (f": {last}" if last else "")


def _worker_of(conn: Redis, job: Job) -> Worker | None:
    if not job.worker_name:
        return None
    return queues.find_worker(job.worker_name, connection=conn)


def lost_reason(run: Run, conn: Redis | None, *, heartbeat_stale: bool, older_than_s: float = LOST_AFTER_S) -> str | None:
    """Why ``run``'s execution is certainly gone, or None while it may be alive."""
    job = queues.fetch_job(run.job_id, connection=conn) if conn is not None and run.job_id else None
    status = job.get_status(refresh=False) if job is not None else None
    if run.status == RunStatus.pending:  # queued: only a job RQ gave up on is lost
        if status in (JobStatus.FAILED, JobStatus.STOPPED):
            return _job_error(job)
        return None
    if conn is not None and run.job_id and job is None:
        return f"its job {run.job_id} is no longer in Redis (the queue was reset or lost)"
    if status in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED):
        return _job_error(job)
    if status == JobStatus.FINISHED:
        return f"job {job.id} ended without recording an outcome"
    worker_alive = False
    if status == JobStatus.STARTED and job.worker_name:
        worker = _worker_of(conn, job)
        if worker is None:
            return f"worker {job.worker_name} is no longer registered"
        gone = liveness.worker_gone(worker, busy=True)
        if gone:
            return gone
        worker_alive = True
    if heartbeat_stale and not worker_alive:
        # a live worker's run that stalls (a slow database write) is left alone: only proof of death fails it
        return f"worker {run.worker or '?'} stopped reporting for over {older_than_s:.0f} s (killed or lost)"
    return None


def reap(*, older_than_s: float = LOST_AFTER_S) -> list[int]:
    """Fail every unfinished run whose execution is gone; return their ids. Without Redis only
    the heartbeat rule applies."""
    try:
        conn = get_redis()
        conn.ping()
    except (RedisConnectionError, RedisTimeoutError, OSError, RuntimeError):
        conn = None
    with session_scope() as s:
        runs = queries.runs_in_status(session=s, statuses=queries.UNFINISHED)
        stale = {r.id for r in queries.stale_runs(session=s, older_than_s=older_than_s)}
    lost = []
    for run in runs:
        try:
            reason = lost_reason(run, conn, heartbeat_stale=run.id in stale, older_than_s=older_than_s)
        except (RedisConnectionError, RedisTimeoutError) as exc:
            log.warning("reaper: Redis went away while checking run %s: %s", run.id, exc)
            conn, reason = None, None
        if reason and fail_lost(run.id, reason, attempt=run.attempt,
                                statuses=(run.status,) if run.status == RunStatus.pending else queries.ACTIVE):
            lost.append(run.id)
    return lost


def reconcile(*, requeue_after_s: float = REQUEUE_AFTER_S) -> dict[str, list[int]]:
    """On start (launcher, worker, after a Redis restart): fail lost runs, and queue again every
    pending run whose job is not in Redis. Returns ``{"failed": [...], "requeued": [...]}``."""
    failed = reap()
    conn = get_redis()
    with session_scope() as s:
        candidates = queries.requeue_candidates(session=s, older_than_s=requeue_after_s)
    requeued = []
    for run in candidates:
        job = queues.fetch_job(run.job_id, connection=conn)
        if job is not None and job.get_status(refresh=False) not in (JobStatus.CANCELED,):
            continue
        with session_scope() as s:  # still pending on the same attempt? (a worker may have just claimed it)
            state = queries.attempt_state(session=s, run_id=run.id)
        if state is None or state[0] != run.attempt or state[1] != RunStatus.pending or state[2]:
            continue
        enqueue_run_attempt(run.id, run.priority)
        requeued.append(run.id)
        log.warning("run %s was pending but its job %s was not in Redis: queued again", run.id, run.job_id)
    return {"failed": failed, "requeued": requeued}


class ReaperThread(threading.Thread):
    """``reap()`` every ``interval`` seconds in the background, until ``stop()``."""

    def __init__(self, interval: float = REAP_EVERY_S, older_than_s: float = LOST_AFTER_S) -> None:
        super().__init__(name="trainyard-reaper", daemon=True)
        self.interval, self.older_than_s = interval, older_than_s
        self._stopped = threading.Event()

    def run(self) -> None:
        from jobs.stalls import mark_stalled_runs

        while not self._stopped.wait(self.interval):
            try:
                reap(older_than_s=self.older_than_s)
                mark_stalled_runs()
            except Exception:  # the database may be briefly unreachable: try again next round
                log.exception("reaper pass failed")

    def stop(self) -> None:
        self._stopped.set()
