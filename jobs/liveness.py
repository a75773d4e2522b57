"""Whether an RQ worker is still alive, from what RQ records about it (name, pid, host, heartbeat).

RQ keeps a killed worker's registration until its key expires (over a minute while it was
busy), so on its own it lists dead workers as busy. Here a worker on this host is dead as soon
as its pid is gone; a worker elsewhere once its heartbeat is older than ``REMOTE_DEAD_AFTER_S``.
"""
from __future__ import annotations

import os
import socket
from datetime import datetime, timezone

from rq import Worker

# rq's busy heartbeat comes every job_monitoring_interval (30 s for a plain ``rq worker``,
# 5 s for ``python -m jobs.worker``); an idle worker's can be ~7 minutes old (blocking dequeue).
REMOTE_DEAD_AFTER_S = float(os.environ.get("TRAINYARD_REMOTE_DEAD_AFTER_S", "45"))


def pid_alive(pid: int) -> bool:
    """True when a process with ``pid`` exists on this machine (zombies count as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    try:  # a killed child not yet reaped by its parent is a zombie: dead for our purposes
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


def local(worker: Worker) -> bool:
    return bool(worker.hostname) and worker.hostname == socket.gethostname()


def heartbeat_age_s(worker: Worker) -> float | None:
    hb = worker.last_heartbeat
    if hb is None:
        return None
    if hb.tzinfo is None:
        hb = hb.replace(tzinfo=timezone.utc)
    return (datetime.now(timezone.utc) - hb).total_seconds()


def worker_gone(worker: Worker, *, busy: bool | None = None) -> str | None:
    """Why ``worker`` is certainly not running any more, or None while it may be alive.

    A remote worker is judged by its heartbeat only while it is busy (``busy`` defaults to
    whether RQ lists a current job): an idle one legitimately stays silent for minutes."""
    if local(worker) and worker.pid:
        return None if pid_alive(worker.pid) else f"worker {worker.name} (pid {worker.pid}) is no longer running"
    if busy is None:
        busy = worker.get_current_job_id() is not None
    age = heartbeat_age_s(worker)
    if busy and age is not None and age > REMOTE_DEAD_AFTER_S:
        return f"worker {worker.name} on {worker.hostname or '?'} has not reported for {age:.0f} s"
    return None


def forget_worker(worker: Worker) -> None:
    """Remove a dead worker's registration, as RQ does when a worker exits cleanly."""
    worker.register_death()
