"""Several GPUs for one yolo run: Ultralytics' own DDP.

With ``device: "0,1"`` Ultralytics' ``model.train`` writes a script, starts it under
``torch.distributed.run`` and waits; the training ranks are fresh processes built from the
arguments alone, so the callbacks of ``RunBridge`` never reach them. What the run context needs
is read instead from the files rank 0 writes: one row of ``results.csv`` per finished epoch
(train losses, val metrics, learning rates) and ``weights/last.pt`` (a copy registered as the
checkpoint per epoch, as on one device). A stop request terminates the DDP processes.

``device_args`` is the argument mapping (device, amp, batch) for any plan; the rest runs only on
CUDA with two or more GPUs.
"""
from __future__ import annotations

import csv
import logging
import threading
from pathlib import Path
from typing import Any

from engine.checkpoints import snapshot
from engine.core import RunContext
from engine.devices import DevicePlan
from engine.families.yolo.callbacks import KEEP_CHECKPOINTS, metric_name

log = logging.getLogger("trainyard.yolo")

__all__ = ["device_args", "row_metrics", "ResultsFollower", "POLL_S"]

POLL_S = 2.0


def device_args(plan: DevicePlan, *, amp: bool, batch: int) -> dict[str, Any]:
    """Ultralytics' ``device``, ``amp`` and ``batch`` for a plan: ``cpu``/``mps``; ``"1"`` for
    ``cuda:1``; ``"0,1"`` (DDP) for two GPUs, whose total ``batch`` must split evenly over them
    (``ValueError`` naming it otherwise). AMP only on CUDA."""
    if not plan.cuda:
        return {"device": plan.kind, "amp": False, "batch": batch}
    if plan.multi and batch % len(plan.indices):
        raise ValueError(f"batch {batch} does not split over {len(plan.indices)} GPUs; use a multiple of "
                         f"{len(plan.indices)} (Ultralytics' DDP gives each GPU batch / GPUs)")
    return {"device": ",".join(map(str, plan.indices)), "amp": bool(amp), "batch": batch}


def row_metrics(row: dict[str, str]) -> tuple[int, dict[str, float]] | None:
    """One ``results.csv`` row → (step, metrics) in the names ``RunBridge`` logs (step = the
    0-based epoch; Ultralytics writes it 1-based). None for a row that is not complete."""
    row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
    try:
        step = int(float(row["epoch"])) - 1
    except (KeyError, ValueError):
        return None
    metrics: dict[str, float] = {}
    for key, text in row.items():
        if key in ("epoch", "time") or not text:
            continue
        try:
            value = float(text)
        except ValueError:
            continue
        if key.startswith("train/"):
            metrics[key] = value
        elif key == "lr/pg0":
            metrics["lr"] = value
        elif (name := metric_name(key)) is not None:
            metrics[name] = value
    return step, metrics


class ResultsFollower:
    """Follows rank 0's ``results.csv`` from a thread while Ultralytics' DDP runs: each new row
    is logged, progress moves by epochs, ``last.pt`` is copied and registered; a stop request
    terminates the DDP processes (children of this one)."""

    def __init__(self, ctx: RunContext, save_dir: Path, epochs: int, *, poll_s: float = POLL_S) -> None:
        self.ctx, self.save_dir, self.epochs, self.poll_s = ctx, Path(save_dir), epochs, poll_s
        self.logged: set[int] = set()
        self.last_epoch_metrics: dict[str, float] = {}
        self.stopped = False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="yolo-ddp-results", daemon=True)

    @property
    def csv_path(self) -> Path:
        return self.save_dir / "results.csv"

    def poll(self) -> int:
        """Log the rows not logged yet; how many were new."""
        if not self.csv_path.exists():
            return 0
        with open(self.csv_path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        new = 0
        for row in rows:
            parsed = row_metrics(row)
            if parsed is None or parsed[0] in self.logged:
                continue
            step, metrics = parsed
            self.logged.add(step)
            self.last_epoch_metrics = metrics
            self.ctx.log(metrics, step=step, epoch=step)
            self.ctx.progress(step + 1, self.epochs, "train")
            last = self.save_dir / "weights" / "last.pt"
            if last.exists():
                self.ctx.checkpoint(snapshot(last, step, keep=KEEP_CHECKPOINTS), step=step,
                                    monitored=metrics.get("val/mAP50-95", metrics.get("val/top1")))
            new += 1
        return new

    def _terminate_ddp(self) -> None:
        import psutil

        for child in psutil.Process().children(recursive=True):
            try:
                child.terminate()
            except psutil.Error:
                pass

    def _loop(self) -> None:
        while not self._done.wait(self.poll_s):
            try:
                self.poll()
                if self.ctx.should_stop() and not self.stopped:
                    self.stopped = True
                    log.info("stop requested: terminating Ultralytics' DDP processes")
                    self._terminate_ddp()
            except Exception:  # a half-written row: the next poll reads it whole
                log.debug("results.csv not readable yet", exc_info=True)

    def __enter__(self) -> "ResultsFollower":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join(timeout=self.poll_s + 5)
        self.poll()  # the rows of the last epochs
