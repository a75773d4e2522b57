"""A Lightning ``Callback`` that bridges a Lightning fit to the ``RunContext``.

* per batch: progress, and the stop flag. A cancel raises ``RunCancelled`` out of the fit at the
  next batch (train or validation), so the previous epoch's ``last.ckpt`` stays the newest
  registered checkpoint. Setting ``trainer.should_stop`` instead would make Lightning validate
  and checkpoint a half-trained epoch, which a resume could not continue without repeating or
  skipping batches.
* per epoch (step = epoch index): train and val losses, per-axis val errors and the learning rate,
  through ``ctx.log``.
* checkpoints: every file ``ModelCheckpoint`` wrote (top 3 by ``val_main_task_loss`` and
  ``last.ckpt``) is registered with ``ctx.checkpoint`` once it exists, i.e. at the next epoch's
  start and at the end of the fit (ModelCheckpoint saves after this callback's epoch-end hook).
* every checkpoint carries the RNG states (``engine.lifecycle.capture_rng``), restored on resume.
"""
from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from engine.checkpoints import sha256_file
from engine.core import RunCancelled, RunContext
from engine.lifecycle import capture_rng, restore_rng

__all__ = ["RunBridge", "metric_name"]

log = logging.getLogger("trainyard.transition")


def metric_name(key: str) -> str:
    """Lightning's ``val_main_task_loss`` → the dashboard's ``val/main_task_loss``."""
    for split in ("train", "val", "test"):
        if key.startswith(split + "_"):
            return f"{split}/{key[len(split) + 1:]}"
    return key


class RunBridge(L.Callback):
    def __init__(self, ctx: RunContext, checkpoint: ModelCheckpoint) -> None:
        self.ctx = ctx
        self.ckpt = checkpoint
        self.recorded: dict[str, str] = {}  # path → sha256 registered
        self.logged: list[int] = []
        self.last_metrics: dict[str, float] = {}

    def _stop(self) -> None:
        if self.ctx.should_stop():
            raise RunCancelled("cancelled on request")

    # ---- progress and cancel
    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._stop()

    # under DDP (several GPUs) every rank runs these hooks; only rank 0 reports to the run
    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if not trainer.is_global_zero:
            return
        per_epoch = max(int(trainer.num_training_batches), 1)
        self.ctx.progress(trainer.current_epoch * per_epoch + batch_idx + 1, trainer.max_epochs * per_epoch, "train")

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        if not trainer.sanity_checking:
            self._stop()

    # ---- metrics and checkpoints
    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if trainer.is_global_zero:
            self.register_checkpoints(trainer.current_epoch - 1)
        self._stop()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        epoch = trainer.current_epoch
        metrics = {metric_name(k): float(v) for k, v in trainer.callback_metrics.items()
                   if k.startswith(("train_", "val_")) and torch.is_tensor(v) and v.numel() == 1}
        metrics["lr"] = float(trainer.optimizers[0].param_groups[0]["lr"])
        self.last_metrics = metrics
        self.logged.append(epoch)
        if trainer.is_global_zero:
            self.ctx.log(metrics, step=epoch, epoch=epoch)

    def on_fit_end(self, trainer, pl_module) -> None:
        if trainer.is_global_zero:
            self.register_checkpoints(trainer.current_epoch - 1)

    def register(self, path: Path, *, step: int, monitored: float | None, best: bool) -> None:
        """Register ``path`` unless this exact content was registered already."""
        path = Path(path)
        if not path.is_file():
            return
        digest = sha256_file(path)
        if self.recorded.get(str(path)) == digest:
            return
        self.ctx.checkpoint(path, step=step, monitored=monitored, best=best)
        self.recorded[str(path)] = digest

    def register_checkpoints(self, epoch: int) -> None:
        """The top-k files new since the last call (best first), then ``last.ckpt``."""
        if epoch < 0:
            return
        best_path = self.ckpt.best_model_path
        for path, score in sorted(self.ckpt.best_k_models.items(), key=lambda kv: float(kv[1])):
            if str(path) not in self.recorded:
                self.register(Path(path), step=epoch, monitored=float(score), best=path == best_path)
        if self.ckpt.last_model_path:
            score = self.last_metrics.get("val/main_task_loss")
            self.register(Path(self.ckpt.last_model_path), step=epoch, monitored=score, best=False)

    def prune_stale(self) -> list[Path]:
        """After resuming from an earlier checkpoint, remove top-k files the restored
        ``ModelCheckpoint`` no longer tracks (written later on the abandoned path), so only the
        top 3, ``last.ckpt`` and ``final_model.ckpt`` remain."""
        folder = Path(self.ckpt.dirpath or "")
        keep = {Path(p).resolve() for p in self.ckpt.best_k_models}
        removed = []
        for f in sorted(folder.glob("*.ckpt")) if folder.is_dir() else []:
            if f.name != "last.ckpt" and f.resolve() not in keep:
                f.unlink()
                removed.append(f)
        if removed:
            log.info("removed %d checkpoint(s) from after the resumed one: %s", len(removed),
                     ", ".join(f.name for f in removed))
        return removed

    def on_train_start(self, trainer, pl_module) -> None:
        if self.ctx.resume_from:
            self.prune_stale()

    # ---- RNG state in every checkpoint
    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict[str, Any]) -> None:
        checkpoint["trainyard_rng"] = capture_rng()

    def on_load_checkpoint(self, trainer, pl_module, checkpoint: dict[str, Any]) -> None:
        state = checkpoint.get("trainyard_rng")
        if state and "python_version" in state:  # written before engine.lifecycle: torch and Python only
            torch.set_rng_state(state["torch"])
            random.setstate((state["python_version"], tuple(state["python"]), None))
        elif state:
            restore_rng(state)
