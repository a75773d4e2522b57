"""What the dashboard and the CLI call to start, stop and inspect work on the queue."""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from pydantic import BaseModel
from rq import Queue
from rq.exceptions import InvalidJobOperation

from db import queries
from db.models import Run, RunStatus
from db.session import session_scope
from engine.configs import ConfigError, FieldError
from engine.families import FAMILIES
from jobs import liveness, queues, wire
from jobs.connection import SCORING_QUEUE, QueueUnavailable, require_queue
from jobs.enqueue import PRIORITIES, enqueue_run_attempt, priority_queue
from jobs.inputs import init_version_of
from jobs.launch import LaunchPlan, PlannedRun, plan_launch
from jobs.wire import NotPlainData
from settings import get_settings

log = logging.getLogger("trainyard.api")
__all__ = ["plan_launch", "LaunchPlan", "PlannedRun", "submit_plan", "submit_run", "cancel_run", "resume_run",
           "retry_run", "queue_depths", "list_workers", "list_machines", "worker_capacity",
           "WorkerInfo", "PRIORITIES", "submit_evaluation", "cancel_evaluation", "wait_for_evaluation"]


def submit_plan(plan: LaunchPlan, *, priority: str = "default", override: bool = False,
                **fields: Any) -> list[Run]:
    """Create and enqueue the runs of a plan (``plan_launch``): ``LaunchBlocked`` lists the gate's
    reasons unless ``override=True``; ``QueueUnavailable`` when Redis is down. Nothing is stored
    or enqueued when the gate or the queue refuses. ``fields`` go to every run row (e.g. the
    ``parent_id`` of a retry)."""
    priority_queue(priority)  # reject a bad priority before anything is written
    require_queue()  # Redis down: QueueUnavailable, and no row is written
    overridden = plan.require_launchable(override=override)
    if overridden:
        log.warning("%s launch on dataset %s overrides the sufficiency gate: %s", plan.family, plan.dataset_id,
                    "; ".join(overridden))
    runs = []
    for planned in plan.runs:
        data = planned.config.model_dump(mode="json")
        with session_scope() as s:
            run = queries.create_run(session=s, family=plan.family, config=data, dataset_id=plan.dataset_id,
                                     name=planned.name, task=data.get("task"), priority=priority,
                                     parent_version_id=init_version_of(planned.config), **fields)
        run.job_id = _enqueue_or_forget(run.id, priority)
        run.attempt += 1
        runs.append(run)
    return runs


def submit_run(*, family: str, config: Mapping[str, Any] | BaseModel | None = None,
               dataset_id: int | None = None, name: str = "", priority: str = "default",
               override: bool = False, description: str = "", tags: Iterable[str] | str = (),
               cloned_from: int | None = None) -> Run:
    """Plan one run (``plan_launch``: ``ConfigError`` names each bad key), check the family's
    data sufficiency gate (``LaunchBlocked`` lists the reasons unless ``override=True``), store a
    pending run and enqueue its id. Nothing is stored or enqueued when validation or the gate
    refuses. A config that expands to several runs (anomaly ``age_groups``) goes through
    ``plan_launch`` + ``submit_plan`` instead. ``description`` and ``tags`` are the run's notes;
    ``cloned_from`` records the run it was cloned from."""
    from jobs.housekeeping import normalize_description, normalize_tags

    fam = FAMILIES[family]
    priority_queue(priority)  # reject a bad priority before anything is validated
    tags, description = normalize_tags(tags), normalize_description(description)
    plan = plan_launch(fam, dataset_id=dataset_id, config=config, name=name)
    if len(plan.runs) != 1:
        raise ConfigError(family, [FieldError("", f"this config launches {len(plan.runs)} runs; submit_run "
                                                  f"starts one (plan_launch + submit_plan start them all)")])
    return submit_plan(plan, priority=priority, override=override, description=description, tags=tags,
                       cloned_from=cloned_from)[0]


def _enqueue_or_forget(run_id: int, priority: str) -> str:
    """Enqueue a run created just now; if the queue refuses it, delete the row (no orphan)."""
    try:
        return enqueue_run_attempt(run_id, priority)
    except (QueueUnavailable, NotPlainData):
        with session_scope() as s:
            queries.delete_run(session=s, run_id=run_id)
        raise


def cancel_run(run_id: int) -> RunStatus:
    """A queued run is cancelled at once; a running one stops at its next batch or epoch."""
    with session_scope() as s:
        run = queries.get_run(session=s, run_id=run_id)
        if run is None:
            raise LookupError(f"no run with id {run_id}")
        if run.status.finished:
            return run.status
        if run.status == RunStatus.pending:
            queries.set_run_status(session=s, run_id=run_id, status=RunStatus.cancelled, cancel_requested=True)
            job_id = run.job_id
        else:
            queries.request_cancel(session=s, run_id=run_id)
            return run.status
    job = queues.fetch_job(job_id) if job_id else None
    if job is not None:
        try:
            job.cancel()
        except InvalidJobOperation:
            pass  # already picked up: the job sees the cancelled status and returns
    from jobs import notify

    notify.run_ended(run_id)  # a running one is announced by its worker when it stops
    return RunStatus.cancelled


def resume_run(run_id: int, checkpoint_id: int | None = None) -> Run:
    """Continue a cancelled or failed run from a checkpoint, as the same run, so its curves
    continue where they stopped: the newest intact one, or ``checkpoint_id`` (one of the run's
    own checkpoints, refused when its file no longer verifies). A checkpoint is intact when its
    file still has the sha256 registered for it (a file changed or rewritten on disk since is
    never loaded). Metrics logged after that checkpoint are dropped because the trainer logs
    those steps again."""
    with session_scope() as s:
        run = queries.get_run(session=s, run_id=run_id)
        if run is None:
            raise LookupError(f"no run with id {run_id}")
        if run.status not in (RunStatus.cancelled, RunStatus.failed):
            raise ValueError(f"run {run_id} is {run.status.value}; only cancelled or failed runs can resume")
        ckpts = queries.checkpoints_newest_first(session=s, run_id=run_id)
        if not ckpts:
            raise ValueError(f"run {run_id} saved no checkpoint to resume from; retry it instead")
        if checkpoint_id is not None:
            chosen = [c for c in ckpts if c.id == checkpoint_id]
            if not chosen:
                raise LookupError(f"run {run_id} has no checkpoint with id {checkpoint_id} (its checkpoints: "
                                  f"{', '.join(str(c.id) for c in ckpts)})")
            ckpt = _newest_intact(chosen)
            if ckpt is None:
                raise ValueError(f"run {run_id}: checkpoint {checkpoint_id} ({chosen[0].path}) no longer has the "
                                 f"sha256 registered for it (changed, rewritten or missing on disk); refusing to "
                                 f"resume from it. Pick another checkpoint")
        else:
            ckpt = _newest_intact(ckpts)
        if ckpt is None:
            raise ValueError(f"run {run_id}: none of its {len(ckpts)} checkpoint file(s) still has the sha256 "
                             f"registered for it (changed, rewritten or missing on disk); refusing to resume. "
                             f"Retry the run from scratch instead")
        require_queue()  # before anything changes
        before = {"status": run.status, "error": run.error, "finished_at": run.finished_at,
                  "resume_from": run.resume_from}
        queries.delete_metrics_after(session=s, run_id=run_id, step=ckpt.step)
        queries.set_run_status(session=s, run_id=run_id, status=RunStatus.pending, cancel_requested=False,
                               resume_from=ckpt.path, error=None, finished_at=None)
        priority = run.priority
    try:
        enqueue_run_attempt(run_id, priority)
    except (QueueUnavailable, NotPlainData):
        with session_scope() as s:  # back to where it was, so Resume can be pressed again
            queries.update_run(session=s, run_id=run_id, **before)
        raise
    with session_scope() as s:
        return queries.get_run(session=s, run_id=run_id)


def _newest_intact(checkpoints: list) -> Any:
    """The first checkpoint (newest first) whose file verifies against its recorded sha256."""
    from engine.trust import UntrustedModelError, verify_recorded

    for ckpt in checkpoints:
        try:
            verify_recorded(ckpt.path, ckpt.sha256, what="checkpoint")
        except (UntrustedModelError, FileNotFoundError):
            continue
        return ckpt
    return None


def retry_run(run_id: int) -> Run:
    """Start afresh with the same family, dataset and config; the new run points to its parent.
    The config is planned again (``plan_launch``: validated by today's model); the run already
    passed the gate (or was overridden) when it was launched, so a retry is not refused by it:
    its reasons are logged as an overridden launch's are."""
    with session_scope() as s:
        run = queries.get_run(session=s, run_id=run_id)
        if run is None:
            raise LookupError(f"no run with id {run_id}")
    require_queue()
    plan = plan_launch(run.family, dataset_id=run.dataset_id, config=run.config)
    plan = replace(plan, runs=tuple(replace(p, name=f"{run.name} (retry)") for p in plan.runs))
    return submit_plan(plan, priority=run.priority, override=True, parent_id=run.id, sweep_id=run.sweep_id,
                       description=run.description, tags=run.tags or [])[0]


def queue_depths(*, gpu_lanes: bool = False) -> dict[str, int]:
    """Jobs waiting per priority; ``gpu_lanes``: also each GPU lane that holds any (``default-gpu2``)."""
    from jobs.machines import gpu_queue_names

    depths = {name: queues.queue(name).count for name in PRIORITIES}
    if gpu_lanes:
        depths.update({name: n for name in gpu_queue_names() if (n := queues.queue(name).count)})
    return depths


def list_machines() -> list[dict[str, Any]]:
    """The registered training workers (``jobs.machines``) as plain rows for a table: host,
    worker, GPUs (name and free/total memory), RAM, and the runs each one is working on now."""
    from jobs import machines

    registered = machines.machines()
    with session_scope() as s:
        active = queries.list_runs(session=s, statuses=[RunStatus.preparing, RunStatus.training], limit=500)
    by_worker: dict[str, list[str]] = {}
    for run in active:
        if run.worker:
            by_worker.setdefault(run.worker, []).append(f"#{run.id} {run.family}".strip())
    return [{**machines.summary(m), "running": ", ".join(by_worker.get(m.worker, [])) or "—"} for m in registered]


def worker_capacity() -> dict[str, int]:
    """``{"workers": N, "gpu_workers": M, "max_gpus": G}`` of the registered training workers."""
    from jobs import machines

    registered = machines.machines()
    return {"workers": len(registered), "gpu_workers": sum(1 for m in registered if m.gpus),
            "max_gpus": max((m.gpu_count for m in registered), default=0)}


@dataclass(frozen=True)
class WorkerInfo:
    name: str
    state: str
    queues: tuple[str, ...]
    current_run: int | None
    last_heartbeat: Any


def list_workers() -> list[WorkerInfo]:
    """Workers that are alive; a registration left behind by a killed worker is removed here."""
    out = []
    for w in queues.all_workers():
        if liveness.worker_gone(w):
            liveness.forget_worker(w)
            continue
        run_id = None
        job = w.get_current_job()
        if job is not None and job.args:
            run_id = job.args[0]
        out.append(WorkerInfo(name=w.name, state=str(w.get_state()), queues=tuple(w.queue_names()),
                              current_run=run_id, last_heartbeat=w.last_heartbeat))
    return out



def _call_in_worker(func: str, *args: Any, timeout_s: float, queue: Queue | None = None,
                    on_wait: Callable[[int | None], None] | None = None) -> Any:
    """Run ``func(*args)`` on a worker (``queue``, default high) and wait for its return value.

    ``on_wait(position)`` is told the job's place in its queue (0 = next; None once a worker has
    it) while it waits. Raises ``TimeoutError`` when no worker answers in time and
    ``RuntimeError`` carrying the worker's last error line when the call fails."""
    import time

    queue = queue or priority_queue("high")
    job = queues.enqueue(queue, func, *args, job_timeout=int(timeout_s), result_ttl=600, failure_ttl=3600)
    deadline = time.monotonic() + timeout_s
    pause = 0.01  # a warm scoring worker answers in tens of milliseconds: poll fast, then back off
    while time.monotonic() < deadline:
        status = job.get_status(refresh=True)
        if status == "finished":
            return job.return_value()
        if status in ("failed", "stopped", "canceled"):
            info = job.latest_result()
            detail = (info.exc_string or "").strip().splitlines()[-1:] if info else []
            raise RuntimeError(detail[0] if detail else f"job {status}")
        if on_wait is not None:
            on_wait(job.get_position() if status == "queued" else None)
        time.sleep(pause)
        pause = min(pause * 1.5, 0.2)
    job.cancel()
    listening = [w for w in queues.all_workers(connection=queue.connection) if queue.name in w.queue_names()]
    if not listening:
        raise TimeoutError(f"no worker listens on the {queue.name!r} queue: start one with "
                           f"`python -m jobs.worker{' --scoring' if queue.name == SCORING_QUEUE else ''}` "
                           f"(`make run` starts one)")
    raise TimeoutError(f"no answer within {timeout_s:.0f} s from the {len(listening)} worker(s) on the "
                       f"{queue.name!r} queue (it held {queue.count} more job(s)); try again")


def request_prediction(model_version_id: int, payload: dict[str, Any], *, timeout_s: float = 120.0,
                       on_wait: Callable[[int | None], None] | None = None) -> dict[str, Any]:
    """Run a registered model on ``payload`` (plain data, images as bytes) on the scoring lane:
    its own queue and worker, which keeps recent models loaded and never trains. Bytes travel
    base64-encoded (``jobs.wire.pack``) both ways; anything else that is not plain data raises
    ``NotPlainData`` and nothing is queued."""
    result = _call_in_worker("jobs.inference.predict_job", model_version_id, wire.pack(payload),
                             timeout_s=timeout_s, queue=queues.queue(SCORING_QUEUE), on_wait=on_wait)
    return wire.unpack(result)


def generate_sample_dataset(kind: str, *, name: str | None = None, timeout_s: float = 600.0,
                            **options: Any) -> dict[str, Any]:
    """Generate and import a sample dataset of ``kind`` on a worker; returns its summary."""
    return _call_in_worker("jobs.datasets.generate_sample_job", kind, name, options, timeout_s=timeout_s)


LOST_AFTER_S = 20.0  # a live run heartbeats every few seconds (resource sampler)


def reap_lost_runs(*, older_than_s: float = LOST_AFTER_S) -> list[int]:
    """Mark runs whose execution is gone as failed ("worker lost: …"), so they can be resumed;
    return their ids. See ``jobs.reaper.reap`` for the rules; workers run it every few seconds."""
    from jobs.reaper import reap

    return reap(older_than_s=older_than_s)


# ---- anomaly family: embeddings as a job ------------------------------------------------------


def submit_embedding(*, dataset_id: int, backbone: str, batch_size: int = 32, priority: str = "default") -> str:
    """Enqueue the embedding of a drawings dataset's missing vectors; returns the RQ job id."""
    job = queues.enqueue(priority_queue(priority), "jobs.embeddings.embed_dataset_job", dataset_id, backbone,
                         batch_size, job_timeout=get_settings().job_timeout_s, result_ttl=24 * 3600,
                         description=f"trainyard embeddings dataset {dataset_id} ({backbone})")
    return job.id


def embedding_status(job_id: str) -> dict[str, Any]:
    """``status`` (queued, started, finished, failed, ...), ``done``/``total`` and, once finished, the result."""
    job = queues.fetch_job(job_id)
    if job is None:
        return {"status": "unknown", "done": 0, "total": 0}
    meta = job.get_meta(refresh=True)
    status = job.get_status(refresh=True)
    out = {"status": getattr(status, "value", str(status)), "done": meta.get("done", 0), "total": meta.get("total", 0)}
    if out["status"] == "finished":
        out["result"] = job.return_value()
    return out


# ---- evaluation of saved models as a job -------------------------------------------------------


def submit_evaluation(*, dataset: int | str, split: str = "test", model_version_id: int | None = None,
                      checkpoint_id: int | None = None, family: str | None = None,
                      options: Mapping[str, Any] | None = None, priority: str = "default"):
    """Evaluate a model version (or a recorded checkpoint) on ``split`` of ``dataset`` (id or
    name) on a worker; returns the pending ``Evaluation`` row. Everything is checked first
    (``jobs.evaluate.plan_evaluation``: ``LookupError`` / ``EvaluationRefused`` naming the value)
    and nothing is stored or queued when a check or the queue refuses."""
    from jobs.evaluate import EVALUATE_FUNC, plan_evaluation

    into = priority_queue(priority)
    plan = plan_evaluation(dataset=dataset, split=split, model_version_id=model_version_id,
                           checkpoint_id=checkpoint_id, family=family, options=options)
    require_queue()
    with session_scope() as s:
        ev = queries.create_evaluation(session=s, family=plan.family, task=plan.task, dataset_id=plan.dataset_id,
                                       split=plan.split, model_version_id=plan.model_version_id,
                                       checkpoint_id=plan.checkpoint_id, run_id=plan.run_id, options=plan.options)
    try:
        from rq import Callback

        job = queues.enqueue(into, EVALUATE_FUNC, ev.id, job_timeout=get_settings().job_timeout_s,
                             result_ttl=24 * 3600, failure_ttl=7 * 24 * 3600,
                             description=f"trainyard evaluation {ev.id} ({plan.model_label} on {plan.dataset_name} "
                                         f"/ {plan.split})", on_failure=Callback("jobs.evaluate.job_failed"))
    except (QueueUnavailable, NotPlainData):
        with session_scope() as s:
            queries.delete_evaluation(session=s, evaluation_id=ev.id)
        raise
    with session_scope() as s:
        return queries.update_evaluation(session=s, evaluation_id=ev.id, job_id=job.id)


def cancel_evaluation(evaluation_id: int) -> str:
    """A queued evaluation is cancelled at once; a running one stops at its next progress report."""
    with session_scope() as s:
        ev = queries.get_evaluation(session=s, evaluation_id=evaluation_id)
        if ev is None:
            raise LookupError(f"no evaluation with id {evaluation_id}")
        if ev.status in ("completed", "failed", "cancelled"):
            return ev.status
        if ev.status == "pending":
            queries.finish_evaluation(session=s, evaluation_id=ev.id, status="cancelled")
        else:
            queries.update_evaluation(session=s, evaluation_id=ev.id, status="cancelled")
        job_id = ev.job_id
    job = queues.fetch_job(job_id) if job_id else None
    if job is not None:
        try:
            job.cancel()
        except InvalidJobOperation:
            pass
    return "cancelled"


def wait_for_evaluation(evaluation_id: int, *, timeout_s: float = 3600.0,
                        on_progress: Callable[[Any], None] | None = None):
    """Poll the row until it ends (or ``TimeoutError``); ``on_progress(row)`` sees every poll."""
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        with session_scope() as s:
            ev = queries.get_evaluation(session=s, evaluation_id=evaluation_id)
        if ev is None:
            raise LookupError(f"no evaluation with id {evaluation_id}")
        if on_progress is not None:
            on_progress(ev)
        if ev.status in ("completed", "failed", "cancelled") and ev.finished_at is not None:
            return ev
        if time.monotonic() > deadline:
            raise TimeoutError(f"evaluation {evaluation_id} still {ev.status} after {timeout_s:.0f} s")
        time.sleep(0.5)
