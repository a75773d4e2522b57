"""Job functions run by RQ workers. Payloads are run ids; everything else is read from the
database, so nothing the UI built is ever unpickled here."""
from __future__ import annotations

import logging
import os
import socket
import sys
import traceback
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

from db import queries
from db.models import RunStatus
from db.nonfinite import json_safe
from db.session import session_scope
from engine.checkpoints import sha256_file
from engine.configs import ConfigError, validate_config
from engine.core import DatasetRef, FitResult, RunCancelled, RunDiverged, RunPruned
from engine.families import FAMILIES
from engine.resources import ResourceSampler
from jobs import artifacts, notify, registry
from jobs.catalog import verify_config
from jobs.context import DbRunContext, StaleAttempt
from jobs.inputs import dataset_ref, extra_datasets_for, init_weights_for, stores_for, verified_checkpoint
from jobs.logs import LOG_NAME, capture_run_output
from jobs.manifest import record_manifest
from settings import get_settings

log = logging.getLogger("trainyard.job")
RESOURCE_INTERVAL_S = float(os.environ.get("TRAINYARD_RESOURCE_INTERVAL", "5"))


def run_dir(run_id: int) -> Path:
    return get_settings().resolved_artifacts_dir / "runs" / str(run_id)


def _worker_name() -> str:
    try:
        from rq import get_current_job

        job = get_current_job()
        if job is not None and job.worker_name:
            return job.worker_name
    except Exception:
        pass
    return f"{socket.gethostname()}.{os.getpid()}"


def _requested_device(config) -> str:
    return str(getattr(config, "device", "auto") or "auto")


STALE = "stale"  # the job's return value when another attempt owns the run


@dataclass
class Claim:
    """A run this execution owns: what the database said when the start was compare-and-set."""
    run_id: int
    attempt: int
    family: str
    config: dict
    dataset_id: int | None
    out_dir: Path
    resume_from: Path | None
    is_trial: bool
    worker: str = ""  # the RQ worker that claimed it
    horse_pid: int | None = None  # the work horse waiting on it, when it trains in its own interpreter

    def to_json(self) -> dict:
        """Plain data for the training interpreter (``jobs.child``): nothing is pickled."""
        return {"run_id": self.run_id, "attempt": self.attempt, "family": self.family, "config": self.config,
                "dataset_id": self.dataset_id, "out_dir": str(self.out_dir),
                "resume_from": str(self.resume_from) if self.resume_from else None, "is_trial": self.is_trial,
                "worker": self.worker}

    @classmethod
    def from_json(cls, data: dict, *, horse_pid: int | None = None) -> Claim:
        return cls(run_id=int(data["run_id"]), attempt=int(data["attempt"]), family=str(data["family"]),
                   config=dict(data["config"]), dataset_id=data.get("dataset_id"), out_dir=Path(data["out_dir"]),
                   resume_from=Path(data["resume_from"]) if data.get("resume_from") else None,
                   is_trial=bool(data["is_trial"]), worker=str(data.get("worker") or ""), horse_pid=horse_pid)


def _in_rq_job() -> bool:
    try:
        from rq import get_current_job

        return get_current_job() is not None
    except Exception:
        return False


def execute_run(run_id: int, attempt: int | None = None, *, capture: bool = True,
                isolate: bool | None = None) -> str:
    """Run one training run to an end state; return that state's name.

    Status moves pending → preparing → training → completed | failed | cancelled, and the
    error text of a failure is stored on the run. The job itself only raises when the database
    cannot be reached, so RQ's failed registry means 'the worker could not even record it'.

    ``attempt`` is the execution number the job was enqueued for; a job whose attempt is no
    longer the run's (resumed or re-queued since) returns ``"stale"`` without touching it.
    Old payloads without an attempt take the run's current one. Either way the start is a
    compare-and-set from ``pending``, so two workers never both run one attempt.

    Four steps: ``claim`` the run, ``build_context`` (everything the family is handed, resolved
    and verified here), ``train``, ``record`` the end state and the model. The last three run in
    a training interpreter of their own (``jobs.child``) when ``isolate`` (default: when this is
    an RQ job, i.e. in a work horse), else here (the offline CLI, in-process tests, benches).
    """
    claim = claim_run(run_id, attempt)
    if isinstance(claim, str):
        return claim
    if _in_rq_job() if isolate is None else isolate:
        return _train_elsewhere(claim, capture=capture)
    return run_claimed(claim, capture=capture)


def _train_elsewhere(claim: Claim, *, capture: bool) -> str:
    """Hand the claimed run to a training interpreter (``jobs.training_process``), wait, and
    record what it could not: its death (``failed: worker lost``), or the cancel it ignored."""
    from jobs import training_process

    outcome = training_process.run_in_child(claim, capture=capture)
    if outcome.status is not None:
        return outcome.status
    if outcome.stopped:
        if outcome.why.startswith("attempt"):
            return STALE
        error = (f"cancelled: the training did not stop within {training_process.CANCEL_GRACE_S:.0f} s of "
                 f"the cancel, so its processes were stopped")
        if not _finish(claim.run_id, RunStatus.cancelled, error, None, claim.family, attempt=claim.attempt,
                       files=_files_of(claim)):
            return STALE
        notify.run_ended(claim.run_id)
        return RunStatus.cancelled.value
    from jobs.reaper import fail_lost

    return RunStatus.failed.value if fail_lost(claim.run_id, outcome.why, attempt=claim.attempt) else STALE


def run_claimed(claim: Claim, *, capture: bool = True) -> str:
    """Build the context, train and record a claimed run (in whichever process it trains)."""
    run_id = claim.run_id
    claim.out_dir.mkdir(parents=True, exist_ok=True)
    with capture_run_output(claim.out_dir / LOG_NAME) if capture else nullcontext():
        outcome = train(claim)
    if outcome is None:
        return STALE
    status, error, result = outcome
    files = _files_of(claim)  # hashed before the end state's transaction, recorded inside it
    if not _finish(run_id, status, error, result, claim.family, attempt=claim.attempt, files=files):
        return STALE
    notify.run_ended(run_id)
    if claim.is_trial:
        _advance_sweep(run_id)
    return status.value


def claim_run(run_id: int, attempt: int | None) -> Claim | str:
    """Compare-and-set the run from ``pending`` to ``preparing`` for this attempt; the claim, or
    the state name to return at once (already finished, cancelled while queued, stale)."""
    with session_scope() as s:
        run = queries.get_run(session=s, run_id=run_id)
        if run is None:
            raise LookupError(f"run {run_id} does not exist")
        if run.status.finished:
            return run.status.value  # cancelled while queued
        if attempt is not None and attempt != run.attempt:
            log.warning("run %s: job for attempt %s skipped, the run is at attempt %s", run_id, attempt, run.attempt)
            return STALE
        attempt = run.attempt
        if run.cancel_requested:
            queries.set_status_if_current(session=s, run_id=run_id, attempt=attempt, status=RunStatus.cancelled,
                                          statuses=queries.UNFINISHED)
            return RunStatus.cancelled.value
        out_dir = Path(run.out_dir) if run.out_dir else run_dir(run_id)
        worker = _worker_name()
        if not queries.set_status_if_current(session=s, run_id=run_id, attempt=attempt, status=RunStatus.preparing,
                                             statuses=(RunStatus.pending,), worker=worker,
                                             out_dir=str(out_dir), error=None, phase="prepare"):
            log.warning("run %s attempt %s is already %s elsewhere; not starting it twice",
                        run_id, attempt, run.status.value)
            return STALE
        return Claim(run_id=run_id, attempt=attempt, family=run.family, config=dict(run.config),
                     dataset_id=run.dataset_id, out_dir=out_dir,
                     resume_from=Path(run.resume_from) if run.resume_from else None,
                     is_trial=run.sweep_id is not None, worker=worker)


def _process(claim: Claim) -> dict:
    """Where the training ran: this process, its parent, and the work horse waiting on it."""
    return {"pid": os.getpid(), "parent_pid": os.getppid(), "work_horse_pid": claim.horse_pid,
            "own_interpreter": claim.horse_pid is not None and claim.horse_pid != os.getpid(),
            "executable": sys.executable}


def build_context(claim: Claim, config) -> tuple[DbRunContext, DatasetRef | None]:
    """The run context with everything resolved and verified before ``fit``: the dataset and
    its samples, the checkpoint to resume from, start weights named by model version, stores."""
    from engine.devices import resolve_device

    dataset = dataset_ref(claim.dataset_id)
    resume = verified_checkpoint(claim.run_id, claim.resume_from) if claim.resume_from is not None else None
    ctx = DbRunContext(claim.run_id, out_dir=claim.out_dir, device=resolve_device(_requested_device(config)),
                       resume_from=claim.resume_from, attempt=claim.attempt)
    ctx.resume = resume
    ctx.init_weights = init_weights_for(claim.family, config)
    ctx.extra_datasets = extra_datasets_for(config, kind=FAMILIES[claim.family].dataset_kind)
    ctx.base_weights = verify_config(claim.family, config)  # the catalog's digests, checked again here
    ctx.stores = stores_for(claim.family)
    record_manifest(run_id=claim.run_id, attempt=claim.attempt, family=claim.family, config=config, dataset=dataset,
                    ctx=ctx, worker=claim.worker or _worker_name(), process=_process(claim))
    if claim.is_trial:
        from jobs.sweeps import SweepLink

        with session_scope() as s:
            ctx.sweep = SweepLink.for_run(queries.get_run(session=s, run_id=claim.run_id))
    return ctx, dataset


def train(claim: Claim) -> tuple[RunStatus, str | None, FitResult | None] | None:
    """Validate, build the context and fit; the end state, error text and result, or None when
    the attempt went stale (nothing may be recorded then)."""
    status, error, result, stale = RunStatus.failed, None, None, False
    ctx = None
    try:
        family = FAMILIES[claim.family]
        config = validate_config(family, claim.config)
        ctx, dataset = build_context(claim, config)
        log.info("run %s: family %s on %s%s", claim.run_id, claim.family, ctx.device,
                 f", resuming from {claim.resume_from}" if claim.resume_from else "")
        with ResourceSampler(ctx.record_resources, interval=RESOURCE_INTERVAL_S):
            result = family.trainer().fit(config, dataset, ctx)
        status = RunStatus.cancelled if ctx.should_stop() else RunStatus.completed
    except StaleAttempt as exc:
        stale = True
        log.warning("%s", exc)
    except RunCancelled:
        status = RunStatus.cancelled
    except RunPruned as exc:
        status, error = RunStatus.pruned, str(exc)
    except (ConfigError, RunDiverged) as exc:
        error = str(exc)  # the explanation is the whole story; no traceback
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        log.error("run %s failed:\n%s", claim.run_id, traceback.format_exc())
    finally:
        if ctx is not None and not stale:
            try:
                ctx.flush()
            except StaleAttempt as exc:
                stale = True
                log.warning("%s", exc)
    stale = stale or (ctx is not None and ctx.stale)  # a trainer that swallowed the exception
    if stale:
        log.info("run %s attempt %s stopped: stale, nothing recorded", claim.run_id, claim.attempt)
        return None
    log.info("run %s ended: %s%s", claim.run_id, status.value, f" ({error})" if error else "")
    return status, error, result


def _advance_sweep(run_id: int) -> None:
    """Tell the sweep how this trial ended and queue the next ones; a failure here never changes
    the run's own record."""
    try:
        from jobs.sweeps import trial_finished

        trial_finished(run_id)
    except Exception:
        log.error("run %s: could not advance its sweep:\n%s", run_id, traceback.format_exc())


def _files_of(claim: Claim) -> list[dict] | None:
    """Every file of the run folder with its size and sha256 (None when the folder cannot be read)."""
    try:
        files, truncated = artifacts.scan(claim.out_dir)
    except OSError:
        log.exception("run %s: could not list the files of %s", claim.run_id, claim.out_dir)
        return None
    if truncated:
        log.warning("run %s: over %d files in %s; the first %d are recorded", claim.run_id, len(files),
                    claim.out_dir, len(files))
    return files


def _finish(run_id: int, status: RunStatus, error: str | None, result: FitResult | None, family: str,
            *, attempt: int, files: list[dict] | None = None) -> bool:
    """Record the end state, the run folder's ``files`` (and register the model as a candidate,
    then apply the family's activation policy) only while ``attempt`` still owns the run."""
    version_id = None
    with session_scope() as s:
        summary = json_safe(dict(result.metrics)) if result else {}
        if not queries.set_status_if_current(session=s, run_id=run_id, attempt=attempt, status=status, error=error,
                                             summary=summary, eta_s=None, stalled_at=None,
                                             phase=None if status != RunStatus.completed else "done"):
            log.warning("run %s attempt %s ended as %s but is no longer the run's attempt; not recorded",
                        run_id, attempt, status.value)
            return False
        if files is not None:
            artifacts.record(session=s, run_id=run_id, files=files)
        if status == RunStatus.completed and result and result.model:
            m = result.model
            queries.update_run(session=s, run_id=run_id, phase="registering")
            version_id = registry.register_candidate(session=s, run_id=run_id, family=family, task=m.task,
                                                     scope=m.scope, artifact_path=str(m.path),
                                                     sha256=sha256_file(Path(m.path)),
                                                     metrics=json_safe(m.metrics) or summary,
                                                     threshold=m.threshold).id
    if version_id is not None:  # after the commit: the policy decides against what is active now
        try:
            log.info("run %s: model #%s is %s", run_id, version_id, registry.decide(version_id).value)
        except Exception:  # the run did complete; its model stays a candidate for someone to activate
            log.error("run %s: activation policy failed for model #%s:\n%s", run_id, version_id,
                      traceback.format_exc())
        finally:  # "registering" → "done": whoever saw "completed" can tell when the decision is in
            with session_scope() as s:
                queries.update_run(session=s, run_id=run_id, phase="done")
    return True
