"""Enqueue one attempt of a run: the database records the attempt's number and job id first,
then the job ``execute_run(run_id, attempt)`` goes onto the run's priority queue.

Used by ``jobs.api`` (submit, resume, retry), ``jobs.reaper`` (re-queue a pending run whose job
vanished) and ``jobs.sweeps`` (each trial); it imports none of them.
"""
from __future__ import annotations

import uuid

from rq import Callback

from db import queries
from db.session import session_scope
from jobs import queues
from jobs.connection import QUEUE_NAMES
from jobs.machines import MAX_GPU_QUEUE, run_queue
from settings import get_settings

__all__ = ["RUN_FUNC", "PRIORITIES", "priority_queue", "enqueue_run_attempt", "run_needs"]

RUN_FUNC = "jobs.tasks.execute_run"
PRIORITIES = QUEUE_NAMES
RESULT_TTL_S = 7 * 24 * 3600
FAILURE_TTL_S = 30 * 24 * 3600


def priority_queue(priority: str):
    """The training queue of ``priority`` (``ValueError`` names the valid ones)."""
    if priority not in PRIORITIES:
        raise ValueError(f"unknown priority {priority!r}; choose one of {', '.join(PRIORITIES)}")
    return queues.queue(priority)


def run_needs(config: dict) -> int:
    """GPUs a worker must see to take a run of ``config`` (stored, plain data): 0 for a CPU run,
    and for a config whose device does not parse (the claim fails it, naming the value)."""
    from engine.devices import required_visible

    try:
        return required_visible(config.get("device", "auto") or "auto", config.get("gpus"))
    except (ValueError, TypeError):
        return 0


def enqueue_run_attempt(run_id: int, priority: str) -> str:
    """Start a new attempt of the run and enqueue it onto the lane of its priority and its
    needs (``jobs.machines.run_queue``: only workers that can serve it listen there); return the
    job id.

    Raises ``QueueUnavailable`` when Redis refuses the job (``NotPlainData`` if the payload were
    not plain data); the caller undoes its own writes."""
    priority_queue(priority)
    job_id = str(uuid.uuid4())
    with session_scope() as s:
        run = queries.get_run(session=s, run_id=run_id)
        visible = run_needs(dict(run.config or {})) if run is not None else 0
        attempt = queries.bump_attempt(session=s, run_id=run_id, job_id=job_id)
    into = queues.queue(run_queue(priority, min(visible, MAX_GPU_QUEUE)))
    queues.enqueue(into, RUN_FUNC, run_id, attempt, job_id=job_id,
                   job_timeout=get_settings().job_timeout_s, result_ttl=RESULT_TTL_S, failure_ttl=FAILURE_TTL_S,
                   description=f"trainyard run {run_id} attempt {attempt}",
                   on_failure=Callback("jobs.reaper.job_failed"), on_stopped=Callback("jobs.reaper.job_stopped"))
    return job_id
