"""Evaluation as a job: a saved model (a registered model version, or a checkpoint Trainyard
recorded) evaluated on one split of a dataset with its family's evaluator, on a worker.

``plan_evaluation`` checks everything a page or the CLI can get wrong before a row is written or
a job queued, each refusal naming the value: a model version or checkpoint that does not exist,
one of another family than asked, a dataset that does not exist or is of the wrong kind or task,
a split the dataset lacks, a bad option. ``jobs.api.submit_evaluation`` then stores the pending
``Evaluation`` row and enqueues ``evaluate_job(evaluation_id)``: the payload is the id only.

The job verifies the model file against its recorded sha256 (``engine.trust``) before the
family loads it (through ``engine.checkpoints.load_verified`` again), reports progress to the
row, and stores the metrics, breakdown tables and the files it wrote (with their sha256).
"""
from __future__ import annotations

import logging
import math
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from db import queries
from db.session import session_scope
from engine.core import EvaluationRefused, VerifiedFile
from engine.families import FAMILIES
from jobs.inputs import dataset_ref, stores_for
from settings import get_settings

__all__ = ["EvaluationPlan", "plan_evaluation", "evaluate_job", "evaluation_dir", "job_failed", "OPTIONS",
           "EVALUATE_FUNC"]

log = logging.getLogger("trainyard.evaluate")
EVALUATE_FUNC = "jobs.evaluate.evaluate_job"
LOG_NAME = "evaluate.log"
# options an evaluation accepts (name → inclusive integer bounds); a family ignores those it has no use for
OPTIONS: dict[str, tuple[int, int]] = {"episodes": (1, 50),  # ppo: episodes per image
                                       "rerank": (0, 1),  # reid: k-reciprocal re-ranking (1: on)
                                       "visrank": (0, 100)}  # reid: ranked-list images of this many queries


@dataclass(frozen=True)
class EvaluationPlan:
    """What one evaluation will run: the model, the dataset and split, all checked."""
    family: str
    task: str | None
    dataset_id: int
    dataset_name: str
    split: str
    model_version_id: int | None = None
    checkpoint_id: int | None = None
    run_id: int | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def model_label(self) -> str:
        return f"model version {self.model_version_id}" if self.model_version_id is not None \
            else f"checkpoint {self.checkpoint_id}"


def evaluation_dir(evaluation_id: int) -> Path:
    return get_settings().resolved_artifacts_dir / "evaluations" / str(evaluation_id)


def _options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    out = {}
    for key, value in dict(options or {}).items():
        if key not in OPTIONS:
            raise EvaluationRefused(f"unknown evaluation option {key!r}; valid: {', '.join(sorted(OPTIONS))}")
        lo, hi = OPTIONS[key]
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise EvaluationRefused(f"evaluation option {key}={value!r}: an integer from {lo} to {hi}")
        out[key] = value
    return out


def plan_evaluation(*, dataset: int | str, split: str = "test", model_version_id: int | None = None,
                    checkpoint_id: int | None = None, family: str | None = None,
                    options: Mapping[str, Any] | None = None) -> EvaluationPlan:
    """The evaluation, checked; ``LookupError`` for an id or name that does not exist and
    ``EvaluationRefused`` for the rest, each naming the value. Writes nothing."""
    if (model_version_id is None) == (checkpoint_id is None):
        raise EvaluationRefused("name one model version or one checkpoint to evaluate")
    opts = _options(options)
    with session_scope() as s:
        if model_version_id is not None:
            mv = queries.get_model_version(session=s, model_version_id=int(model_version_id))
            if mv is None:
                raise LookupError(f"no model version with id {model_version_id}")
            if mv.status == "deleted":
                raise EvaluationRefused(f"model version {mv.id} was deleted; its file is gone")
            fam, task, run_id, what = mv.family, mv.task, mv.run_id, f"model version {mv.id}"
        else:
            ck = queries.get_checkpoint(session=s, checkpoint_id=int(checkpoint_id))
            if ck is None:
                raise LookupError(f"no checkpoint with id {checkpoint_id}")
            run = queries.get_run(session=s, run_id=ck.run_id)
            fam, task, run_id, what = run.family, run.task, run.id, f"checkpoint {ck.id} (run {run.id})"
        if isinstance(dataset, str) and not dataset.isdigit():
            ds = queries.get_dataset_by_name(session=s, name=dataset)
        else:
            ds = queries.get_dataset(session=s, dataset_id=int(dataset))
        if ds is None:
            raise LookupError(f"no dataset {dataset!r}")
        if ds.status != "ready":
            raise EvaluationRefused(f"dataset {ds.name!r} is {ds.status}, not ready")
        dataset_id = ds.id
    if family is not None and fam != family:
        raise EvaluationRefused(f"{what} is a {fam} model, not a {family} one")
    ref = dataset_ref(dataset_id, samples=False)
    splits = FAMILIES[fam].evaluation_splits(ref, task)
    if split not in splits:
        raise EvaluationRefused(f"split {split!r}: dataset {ref.name!r} has no such split for {fam} models "
                                f"(it has {', '.join(splits) or 'none'})")
    return EvaluationPlan(family=fam, task=task, dataset_id=dataset_id, dataset_name=ref.name, split=split,
                          model_version_id=None if model_version_id is None else int(model_version_id),
                          checkpoint_id=None if checkpoint_id is None else int(checkpoint_id), run_id=run_id,
                          options=opts)


class DbEvalContext:
    """An ``engine.core.EvalContext`` that reports progress to the Evaluation row (at most once
    per ``poll_s``) and stops when the row was cancelled."""

    def __init__(self, evaluation_id: int, *, out_dir: Path, device: str, poll_s: float = 1.0) -> None:
        self.evaluation_id, self.out_dir, self.device, self.poll_s = evaluation_id, Path(out_dir), device, poll_s
        self.stores: dict[str, object] = {}
        self._last = 0.0
        self._stop = False

    def progress(self, done: int, total: int, phase: str = "evaluate") -> None:
        now = time.monotonic()
        if now - self._last < self.poll_s and done < total:
            return
        self._last = now
        with session_scope() as s:
            ev = queries.update_evaluation(session=s, evaluation_id=self.evaluation_id, phase=phase,
                                           progress_done=int(done), progress_total=int(total))
            self._stop = ev.status == "cancelled"

    def should_stop(self) -> bool:
        return self._stop


def _verified_model(ev) -> VerifiedFile:
    """The evaluation's model file, its sha256 checked against the record it came from."""
    from engine.trust import verify_recorded

    with session_scope() as s:
        if ev.model_version_id is not None:
            mv = queries.get_model_version(session=s, model_version_id=ev.model_version_id)
            if mv is None:
                raise LookupError(f"model version {ev.model_version_id} is gone")
            run = queries.get_run(session=s, run_id=mv.run_id)
            path = verify_recorded(mv.artifact_path, mv.sha256, what=f"model version {mv.id} artifact")
            return VerifiedFile(path=path, sha256=mv.sha256, what=f"model version {mv.id}",
                                meta={"version_id": mv.id, "family": mv.family, "task": mv.task, "scope": mv.scope,
                                      "threshold": mv.threshold, "config": dict(run.config) if run else {}})
        ck = queries.get_checkpoint(session=s, checkpoint_id=ev.checkpoint_id)
        if ck is None:
            raise LookupError(f"checkpoint {ev.checkpoint_id} is gone")
        run = queries.get_run(session=s, run_id=ck.run_id)
        path = verify_recorded(ck.path, ck.sha256, what=f"checkpoint {ck.id}")
        return VerifiedFile(path=path, sha256=ck.sha256, what=f"checkpoint {ck.id}",
                            meta={"checkpoint_id": ck.id, "family": run.family, "task": run.task, "scope": "",
                                  "config": dict(run.config)})


def _files(out_dir: Path, paths) -> list[dict[str, Any]]:
    from engine.digests import sha256_file

    out = []
    for p in paths:
        p = Path(p)
        if p.is_file():
            out.append({"path": p.resolve().relative_to(out_dir.resolve()).as_posix(), "size": p.stat().st_size,
                        "sha256": sha256_file(p)})
    return out


def _plain(metrics: Mapping[str, Any]) -> dict[str, float | None]:
    """Finite floats; a NaN or infinity (AUROC without anomalies, say) is stored as None."""
    out = {}
    for k, v in metrics.items():
        v = float(v)
        out[str(k)] = v if math.isfinite(v) else None
    return out


def _worker_name() -> str:
    import os
    import socket

    from rq import get_current_job

    job = get_current_job()
    return job.worker_name if job is not None and job.worker_name else f"{socket.gethostname()}.{os.getpid()}"


def _finite(value: Any) -> Any:
    """Plain data with every NaN/inf float as None (PostgreSQL's json refuses the NaN token)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def evaluate_job(evaluation_id: int) -> str:
    """Run one evaluation to an end state (completed, failed, cancelled); return it."""
    from engine.devices import resolve_device
    from jobs.logs import capture_run_output

    out_dir = evaluation_dir(evaluation_id)
    with session_scope() as s:
        ev = queries.get_evaluation(session=s, evaluation_id=evaluation_id)
        if ev is None:
            raise LookupError(f"no evaluation with id {evaluation_id}")
        if not queries.start_evaluation(session=s, evaluation_id=evaluation_id, worker=_worker_name(),
                                        out_dir=str(out_dir)):
            return ev.status
    out_dir.mkdir(parents=True, exist_ok=True)
    status, error, result = "failed", None, None
    with capture_run_output(out_dir / LOG_NAME):
        try:
            family = FAMILIES[ev.family]
            model = _verified_model(ev)
            dataset = dataset_ref(ev.dataset_id)
            ctx = DbEvalContext(evaluation_id, out_dir=out_dir, device=resolve_device(ev.options.get("device", "auto")))
            ctx.stores = stores_for(ev.family)
            ctx.progress(0, 1, "prepare")
            log.info("evaluating %s on %s / %s", model.what, dataset.name, ev.split)
            result = family.evaluate(model, dataset, ev.split, ctx, ev.options)
            status = "cancelled" if ctx.should_stop() else "completed"
            log.info("evaluation %s: %s", evaluation_id, "  ".join(f"{k}={v:.5g}" for k, v in result.metrics.items()))
        except Exception as exc:  # the row says why; the job itself succeeded in recording it
            from engine.core import RunCancelled

            if isinstance(exc, RunCancelled):
                status = "cancelled"
            else:
                error = f"{type(exc).__name__}: {exc}" if not isinstance(exc, (EvaluationRefused, LookupError)) \
                    else str(exc)
                log.error("evaluation %s failed:\n%s", evaluation_id, traceback.format_exc())
    with session_scope() as s:
        if queries.get_evaluation(session=s, evaluation_id=evaluation_id).status == "cancelled":
            status = "cancelled"  # asked while it ran: its results are not kept as an evaluation's
            result = None
        queries.finish_evaluation(
            session=s, evaluation_id=evaluation_id, status=status, error=error,
            metrics=_plain(result.metrics) if result else {}, tables=_finite(result.tables) if result else {},
            artifacts=_files(out_dir, [*(result.artifacts if result else []), out_dir / LOG_NAME]))
    return status


def job_failed(job, connection, exc_type=None, exc_value=None, tb=None) -> None:
    """RQ ``on_failure`` callback: a work horse that died (or a database that could not record
    the end) leaves the row failed, not running for ever."""
    if not job.args:
        return
    reason = f"the evaluation job stopped: {getattr(exc_type, '__name__', 'error')}: {exc_value}"
    with session_scope() as s:
        ev = queries.get_evaluation(session=s, evaluation_id=int(job.args[0]))
        if ev is not None and ev.status in ("pending", "running"):
            queries.finish_evaluation(session=s, evaluation_id=ev.id, status="failed", error=reason)
