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
from engine.core import RunDiverged
from engine.divergence import DivergenceGuard
from engine.resources import ResourceReading
from settings import get_settings

log = logging.getLogger("trainyard.run")


class DbRunContext:
    """Writes a run's reports to the database.

    Metrics are buffered and written in batches (every ``flush_rows`` rows or ``flush_s``
    seconds, and at every checkpoint and at the end); progress and the stop flag touch the
    database at most once per ``poll_s``. Every write retries lock and serialization errors
    with backoff (``db/retry.py``), so a busy database slows a training down but never kills it.

    Every logged loss passes the divergence guard (``engine/divergence.py``): a NaN/inf loss,
    or one above ``TRAINYARD_DIVERGENCE_FACTOR`` × its first value, flushes the metrics so far
    and raises ``RunDiverged``; the checkpoints registered before it stay.
    """

    def __init__(self, run_id: int, *, out_dir: Path, device: str = "cpu", resume_from: Path | None = None,
                 flush_rows: int = 200, flush_s: float = 2.0, poll_s: float = 1.0) -> None:
        self.run_id = run_id
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

    # ---- RunContext ----
    def log(self, metrics: Mapping[str, float], *, step: int, epoch: int | None = None) -> None:
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

        def write() -> None:
            with session_scope() as s:
                queries.update_run(session=s, run_id=self.run_id, progress_done=int(done),
                                   progress_total=int(total), phase=phase, eta_s=eta, heartbeat_at=utcnow())

        retry_transient(write, what=f"run {self.run_id}: progress")

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
                if flag is None and monitored is not None:
                    prior = queries.best_monitored(session=s, run_id=self.run_id)
                    flag = prior is None or monitored < prior
                queries.add_checkpoint(session=s, run_id=self.run_id, step=step, path=str(path),
                                       sha256=digest, monitored=monitored, best=bool(flag))
            return bool(flag)

        best = retry_transient(write, what=f"run {self.run_id}: checkpoint registration")
        log.info("checkpoint step %s: %s%s", step, path.name, " (best)" if best else "")

    def should_stop(self) -> bool:
        if self._stop:
            return True
        now = time.monotonic()
        if now - self._last_poll >= self.poll_s:
            self._last_poll = now

            def read() -> bool:
                with session_scope() as s:
                    return queries.cancel_requested(session=s, run_id=self.run_id)

            self._stop = retry_transient(read, what=f"run {self.run_id}: cancel flag")
        return self._stop

    # ---- worker side ----
    def flush(self) -> None:
        with self._lock:
            rows, self._buffer = self._buffer, []
            self._last_flush = time.monotonic()
        if not rows:
            return

        def write() -> None:
            with session_scope() as s:
                queries.add_metrics(session=s, rows=rows)

        try:
            retry_transient(write, what=f"run {self.run_id}: metrics ({len(rows)} rows)")
        except BaseException:
            with self._lock:  # keep them for the next flush rather than lose them
                self._buffer[:0] = rows
            raise

    def record_resources(self, reading: ResourceReading) -> None:
        """Resource sampler sink; doubles as the run's heartbeat."""
        def write() -> None:
            with session_scope() as s:
                queries.add_resource_sample(session=s, run_id=self.run_id, **reading.__dict__)
                queries.update_run(session=s, run_id=self.run_id, heartbeat_at=utcnow())

        retry_transient(write, what=f"run {self.run_id}: heartbeat")

    def _mark_training(self) -> None:
        if not self._training:
            def write() -> None:
                with session_scope() as s:
                    queries.set_run_status(session=s, run_id=self.run_id, status=RunStatus.training)

            retry_transient(write, what=f"run {self.run_id}: status")
            self._training = True

    def _first_logged(self, name: str) -> float | None:
        """A loss's first finite value from before a resume (the divergence guard's scale)."""
        def read() -> float | None:
            with session_scope() as s:
                return queries.first_finite_metric(session=s, run_id=self.run_id, name=name)

        return retry_transient(read, what=f"run {self.run_id}: first {name}")
