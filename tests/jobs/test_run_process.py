"""Each run trains in a fresh interpreter of its own, never in the worker or its fork (issue 20,
part 1): real workers, a real Redis and database, real processes killed for real."""
from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import psutil

from db.models import RunStatus
from jobs import api
from jobs.manifest import manifest_of
from tests.conftest import wait_for_status

SLOW = {"epochs": 40, "batches": 5, "sleep_s": 0.1}  # ~20 s unless stopped
ENDED = [RunStatus.completed, RunStatus.failed, RunStatus.cancelled]


def _training(run_id: int) -> dict:
    """Wait until the run trains; the manifest's record of its training process."""
    run = wait_for_status(run_id, [RunStatus.training, *ENDED], timeout=120)
    assert run.status == RunStatus.training, (run.status, run.error)
    return manifest_of(run_id)["process"]


def _cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]


def _gone(pid: int, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def _probe() -> dict:
    from jobs import queues

    job = queues.enqueue(queues.queue("high"), "tests.fixtures.probe.interpreter")
    deadline = time.monotonic() + 60
    while job.get_status(refresh=True) != "finished":
        assert time.monotonic() < deadline, f"probe job {job.get_status(refresh=True)}"
        time.sleep(0.05)
    return job.return_value()


def test_a_run_trains_in_a_fresh_interpreter_and_the_worker_never_imports_torch(stack, worker):
    run = api.submit_run(family="toy", config=SLOW, priority="high")
    proc = _training(run.id)
    pid, horse = proc["pid"], proc["work_horse_pid"]
    assert proc["own_interpreter"] and pid != horse and pid != worker.pid
    # the warm interpreter was started by the worker (never forked from it), and waited for this run
    assert proc["parent_pid"] == worker.pid
    assert psutil.Process(horse).ppid() == worker.pid
    assert _cmdline(pid)[:3] == [sys.executable, "-m", "jobs.child"]  # a fresh python, not a fork
    assert _cmdline(horse) == _cmdline(worker.pid)  # the horse is the fork; it only waits
    assert os.getsid(pid) == pid  # its own session: its process group is the run's
    api.cancel_run(run.id)
    assert wait_for_status(run.id, ENDED).status == RunStatus.cancelled
    assert _gone(pid)
    probe = _probe()  # a job forked from the same worker, after the run
    assert probe["parent_pid"] == worker.pid
    assert probe["torch_imported"] is False and probe["cuda_initialized"] is False
    # the worker started the next warm interpreter: the next run starts in another process
    again = api.submit_run(family="toy", config={"epochs": 1}, priority="high")
    assert wait_for_status(again.id, ENDED).status == RunStatus.completed
    assert manifest_of(again.id)["process"]["pid"] not in (pid, horse)


def test_a_killed_training_process_fails_the_run_with_its_signal_and_the_worker_goes_on(stack, worker):
    run = api.submit_run(family="toy", config=SLOW, priority="high")
    pid = _training(run.id)["pid"]
    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    done = wait_for_status(run.id, ENDED, timeout=30)
    took = time.monotonic() - killed
    print(f"training process SIGKILL -> failed after {took:.2f} s: {done.error}")
    assert done.status == RunStatus.failed
    assert done.error.startswith(f"worker lost: the training process (pid {pid}) of worker ")
    assert "killed by signal 9 (SIGKILL)" in done.error and "resume it" in done.error
    assert took < 10
    after = api.submit_run(family="toy", config={"epochs": 1}, priority="high")
    assert wait_for_status(after.id, ENDED).status == RunStatus.completed


def test_cancel_stops_the_whole_process_group(stack, worker):
    """A cooperative trainer stops at its next batch, and its helper processes go with it."""
    run = api.submit_run(family="toy", config={**SLOW, "helper_process": True}, priority="high")
    pid = _training(run.id)["pid"]
    helper = int((_out_dir(run.id) / "helper.pid").read_text())
    assert os.getpgid(helper) == pid  # in the run's process group
    api.cancel_run(run.id)
    assert wait_for_status(run.id, ENDED).status == RunStatus.cancelled
    assert _gone(pid) and _gone(helper)


def _pending_run(config: dict) -> int:
    from db import queries
    from db.session import session_scope

    with session_scope() as s:
        return queries.create_run(session=s, family="toy", config=config).id


def test_a_trainer_that_ignores_the_cancel_has_its_process_group_stopped(stack, monkeypatch):
    """Here the test process is the work horse: ``execute_run`` with nothing handed over starts a
    fresh interpreter itself (as a ``--no-preload`` worker's horse does) and is its parent."""
    import threading

    from jobs import training_process
    from jobs.tasks import execute_run

    monkeypatch.setattr(training_process, "CANCEL_GRACE_S", 1.0)
    run_id = _pending_run({**SLOW, "helper_process": True, "stuck_at_epoch": 1})
    outcome: list[str] = []
    horse = threading.Thread(target=lambda: outcome.append(execute_run(run_id, isolate=True, capture=False)))
    horse.start()
    try:
        proc = _training(run_id)
        assert proc["parent_pid"] == proc["work_horse_pid"] == os.getpid() != proc["pid"]
        assert _cmdline(proc["pid"])[:3] == [sys.executable, "-m", "jobs.child"]
        helper = int((_out_dir(run_id) / "helper.pid").read_text())
        deadline = time.monotonic() + 60  # let it reach the epoch where it hangs
        while _steps(run_id) < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        api.cancel_run(run_id)
    finally:
        horse.join(timeout=120)
    assert outcome == ["cancelled"]
    done = wait_for_status(run_id, ENDED, timeout=5)
    assert done.status == RunStatus.cancelled
    assert "did not stop within 1 s of the cancel" in (done.error or "")
    assert _gone(proc["pid"]) and _gone(helper)


def _out_dir(run_id: int) -> Path:
    from db import queries
    from db.session import session_scope

    with session_scope() as s:
        return Path(queries.get_run(session=s, run_id=run_id).out_dir)


def _steps(run_id: int) -> int:
    from db import queries
    from db.session import session_scope

    with session_scope() as s:
        return len(queries.metric_rows(session=s, run_id=run_id, names=["val/loss"]))
