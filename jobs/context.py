"""The worker's RunContext: metrics, progress, checkpoints and the stop flag, into the database."""
from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from db import queries
from db.models import RunStatus, utcnow
from db.retry import retry_transient
from db.session import session_scope
from engine.checkpoints import sha256_file
from engine.core import RunCancelled, RunDiverged
from engine.divergence import DivergenceGuard
from engine.resources import ResourceReading, ResourceTotals
from settings import get_settings

log = logging.getLogger("trainyard.run")


class StaleAttempt(RunCancelled):
    """This execution is no longer the run's: it was resumed, re-queued or declared lost
    elsewhere. The holder stops at once and writes nothing more."""


def _gpus_of(device: str) -> int:
    """GPUs a resolved device trains on: ``cuda``/``cuda:1`` one, ``cuda:0,1`` two, else none."""
    if not str(device).startswith("cuda"):
        return 0
    _, _, indices = str(device).partition(":")
    return max(1, len([i for i in indices.split(",") if i.strip()]))


class DbRunContext:
    """Writes a run's reports to the database.

    Metrics are buffered and written in batches (every ``flush_rows`` rows or ``flush_s``
    seconds, and at every checkpoint and at the end); progress and the stop flag touch the
    database at most once per ``poll_s``. Every write retries lock and serialization errors
    with backoff (``db/retry.py``), so a busy database slows a training down but never kills it.

    With an ``attempt`` every write is guarded by it: once the run's attempt moves on (resume,
    re-queue) or the run is marked finished elsewhere (the reaper declared it lost), the next
    poll, flush, progress or checkpoint raises ``StaleAttempt`` and nothing more is written.

    Every logged loss passes the divergence guard (``engine/divergence.py``): a NaN/inf loss,
    or one above ``TRAINYARD_DIVERGENCE_FACTOR`` × its first value, flushes the metrics so far
    and raises ``RunDiverged``; the checkpoints registered before it stay. A sweep trial's
    context also reports the sweep metric to its pruner (``report``).
    """

    def __init__(self, run_id: int, *, out_dir: Path, device: str = "cpu", resume_from: Path | None = None,
                 flush_rows: int = 200, flush_s: float = 2.0, poll_s: float = 1.0,
                 attempt: int | None = None) -> None:
        self.run_id = run_id
        self.attempt = attempt
        self.stale = False
        self.out_dir = Path(out_dir)
        self.device = device
        self.resume_from = resume_from
        self.flush_rows, self.flush_s, self.poll_s = flush_rows, flush_s, poll_s
        self._buffer: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._last_flush = time.monotonic()
        self._last_progress = 0.0
        self._last_poll = 0.0
        self._stop = False
        self._training = False
        self._phase_start: dict[str, tuple[float, int]] = {}
        self._guard = DivergenceGuard(get_settings().divergence_factor,
                                      first_value=self._first_logged if resume_from else None)
        self.sweep = None  # a jobs.sweeps.SweepLink when this run is a sweep trial
        self.resume = None  # engine.core.VerifiedFile: the checkpoint the worker verified for a resume
        self.init_weights = None  # engine.core.VerifiedFile: start weights named by the config
        self.stores: dict[str, object] = {}  # name → store (engine.stores)
        self.extra_datasets: tuple = ()  # engine.core.DatasetRef: more datasets the config combines (extra_datasets)
        self.totals = ResourceTotals(gpus_used=_gpus_of(device))  # the run's peak RAM/GPU memory, GPU-hours

    # ---- RunContext ----
    def log(self, metrics: Mapping[str, float], *, step: int, epoch: int | None = None) -> None:
        self._raise_if_stale()
        now = utcnow()
        with self._lock:
            for name, value in metrics.items():
                if value is None:
                    continue
                self._buffer.append({"run_id": self.run_id, "step": int(step), "epoch": epoch,
                                     "name": str(name), "value": float(value), "time": now})
            due = len(self._buffer) >= self.flush_rows or time.monotonic() - self._last_flush >= self.flush_s
        self._mark_training()
        line = "  ".join(f"{k}={v:.5g}" for k, v in metrics.items() if v is not None)
        log.info("step %s%s  %s", step, f" epoch {epoch}" if epoch is not None else "", line)
        diverged = self._guard.check(metrics, step=int(step), epoch=epoch)
        if diverged:
            self.flush()  # the curve up to and including the bad value is what explains the failure
            raise RunDiverged(diverged)
        if due:
            self.flush()
        if self.sweep is not None and metrics.get(self.sweep.metric) is not None:
            self.report(float(metrics[self.sweep.metric]), step)

    def report(self, value: float, step: int) -> None:
        """Feed the sweep's pruner; raises ``RunPruned`` (after saving what was logged) to stop."""
        if self.sweep is None:
            return
        try:
            self.sweep.report(value, step)
        except Exception:
            self.flush()
            raise

    def progress(self, done: int, total: int, phase: str = "train") -> None:
        now = time.monotonic()
        started, done0 = self._phase_start.setdefault(phase, (now, done))
        if phase == "train":
            self._mark_training()
        if now - self._last_progress < self.poll_s and done < total:
            return
        self._last_progress = now
        rate = (done - done0) / (now - started) if now > started and done > done0 else 0.0
        eta = (total - done) / rate if rate > 0 else None
        self._raise_if_stale()
        stamp = utcnow()
        fields = dict(progress_done=int(done), progress_total=int(total), phase=phase, eta_s=eta,
                      heartbeat_at=stamp, progress_at=stamp, stalled_at=None)

        def write() -> bool:
            with session_scope() as s:
                if self.attempt is None:
                    queries.update_run(session=s, run_id=self.run_id, **fields)
                    return True
                return queries.update_if_current(session=s, run_id=self.run_id, attempt=self.attempt, **fields)

        if not retry_transient(write, what=f"run {self.run_id}: progress"):
            self._went_stale()

    def checkpoint(self, path: Path, *, step: int, monitored: float | None = None,
                   best: bool | None = None) -> None:
        self.flush()
        path = Path(path)
        digest = sha256_file(path)
        if monitored is not None and not math.isfinite(monitored):
            monitored = None  # a non-finite value ranks nothing and no database stores it portably
        chosen = best

        def write() -> bool:
            flag = chosen
            with session_scope() as s:
                self._check_current(s)
                if flag is None and monitored is not None:
                    prior = queries.best_monitored(session=s, run_id=self.run_id)
                    flag = prior is None or monitored < prior
                queries.add_checkpoint(session=s, run_id=self.run_id, step=step, path=str(path),
                                       sha256=digest, monitored=monitored, best=bool(flag))
            return bool(flag)

        best = retry_transient(write, what=f"run {self.run_id}: checkpoint registration")
        log.info("checkpoint step %s: %s%s", step, path.name, " (best)" if best else "")

    def should_stop(self) -> bool:
        self._raise_if_stale()
        if self._stop:
            return True
        now = time.monotonic()
        if now - self._last_poll >= self.poll_s:
            self._last_poll = now

            def read() -> bool:
                with session_scope() as s:
                    if self.attempt is None:
                        return queries.cancel_requested(session=s, run_id=self.run_id)
                    return self._check_current(s)

            self._stop = retry_transient(read, what=f"run {self.run_id}: cancel flag")
        return self._stop

    # ---- worker side ----
    def flush(self) -> None:
        with self._lock:
            rows, self._buffer = self._buffer, []
            self._last_flush = time.monotonic()
        self._raise_if_stale()
        if not rows:
            return

        def write() -> None:
            with session_scope() as s:
                self._check_current(s)
                queries.add_metrics(session=s, rows=rows)
                queries.update_run(session=s, run_id=self.run_id, progress_at=utcnow(), stalled_at=None)

        try:
            retry_transient(write, what=f"run {self.run_id}: metrics ({len(rows)} rows)")
        except StaleAttempt:
            raise  # nothing of a stale attempt is kept
        except BaseException:
            with self._lock:  # keep them for the next flush rather than lose them
                self._buffer[:0] = rows
            raise

    def record_resources(self, reading: ResourceReading) -> None:
        """Resource sampler sink; doubles as the run's heartbeat. Each sample also renews the
        run's resource summary (``Run.resources``: peak RAM, peak GPU memory, GPU-hours)."""
        if self.stale:
            return
        self.totals.add(reading)
        resources = {**self.totals.summary(), "attempt": self.attempt}

        def write() -> bool:
            with session_scope() as s:
                if self.attempt is None:
                    queries.update_run(session=s, run_id=self.run_id, heartbeat_at=utcnow(), resources=resources)
                elif not queries.update_if_current(session=s, run_id=self.run_id, attempt=self.attempt,
                                                   heartbeat_at=utcnow(), resources=resources):
                    return False
                queries.add_resource_sample(session=s, run_id=self.run_id, **reading.as_row())
            return True

        if not retry_transient(write, what=f"run {self.run_id}: heartbeat"):
            self.stale = True  # the sampler thread only flags it; the training thread raises

    def _mark_training(self) -> None:
        if self._training:
            return

        def write() -> bool:
            with session_scope() as s:
                if self.attempt is None:
                    queries.set_run_status(session=s, run_id=self.run_id, status=RunStatus.training)
                    return True
                return queries.set_status_if_current(session=s, run_id=self.run_id, attempt=self.attempt,
                                                     status=RunStatus.training)

        current = retry_transient(write, what=f"run {self.run_id}: status")
        self._training = True
        if not current:
            self._went_stale()

    def _first_logged(self, name: str) -> float | None:
        """A loss's first finite value from before a resume (the divergence guard's scale)."""
        def read() -> float | None:
            with session_scope() as s:
                return queries.first_finite_metric(session=s, run_id=self.run_id, name=name)

        return retry_transient(read, what=f"run {self.run_id}: first {name}")

    # ---- attempt guard ----
    def _check_current(self, session) -> bool:
        """Raise ``StaleAttempt`` unless this attempt still owns the run; return its cancel flag."""
        if self.attempt is None:
            return False
        state = queries.attempt_state(session=session, run_id=self.run_id)
        if state is None or state[0] != self.attempt or state[1].finished:
            self._went_stale(state)
        return state[2]

    def _went_stale(self, state=None) -> None:
        self.stale = True
        with self._lock:
            self._buffer = []
        self._raise_if_stale(state)

    def _raise_if_stale(self, state=None) -> None:
        if self.stale:
            why = (f"the run is now attempt {state[0]} ({state[1].value})" if state
                   else "the run moved on to another attempt or was marked finished")
            raise StaleAttempt(f"run {self.run_id} attempt {self.attempt} is stale: {why}; stopping without writing")
