"""Bridge Ultralytics' trainer callbacks to a ``RunContext``: metrics, progress, checkpoints, cancel."""
from __future__ import annotations

from typing import Any

from engine.checkpoints import snapshot
from engine.core import RunCancelled, RunContext

__all__ = ["RunBridge", "metric_name", "KEEP_CHECKPOINTS"]

KEEP_CHECKPOINTS = 2  # per-epoch copies of last.pt kept on disk (resume needs the newest intact one)

# Ultralytics' result keys → Trainyard metric names ("val/..." during training, "test/..." on test).
_RENAME = {
    "metrics/precision(B)": "precision", "metrics/recall(B)": "recall",
    "metrics/mAP50(B)": "mAP50", "metrics/mAP50-95(B)": "mAP50-95",
    "metrics/precision(M)": "mask_precision", "metrics/recall(M)": "mask_recall",
    "metrics/mAP50(M)": "mask_mAP50", "metrics/mAP50-95(M)": "mask_mAP50-95",
    "metrics/accuracy_top1": "top1", "metrics/accuracy_top5": "top5",
}


def metric_name(key: str, prefix: str = "val") -> str | None:
    """``metrics/mAP50(B)`` → ``val/mAP50``; ``val/box_loss`` → ``<prefix>/box_loss``; others None."""
    if key in _RENAME:
        return f"{prefix}/{_RENAME[key]}"
    if key.startswith("val/"):
        return f"{prefix}/{key[4:]}"
    return None


def rename_metrics(results: dict[str, Any], prefix: str = "val") -> dict[str, float]:
    out = {}
    for key, value in results.items():
        name = metric_name(key, prefix)
        if name is not None and value is not None:
            out[name] = float(value)
    return out


class RunBridge:
    """Callbacks for one Ultralytics training run.

    Per epoch (step = epoch index, so a resumed run logs each step once): train losses, val
    losses and metrics, and the learning rate; then a per-epoch copy of ``last.pt`` is
    registered as the checkpoint to resume from (Ultralytics rewrites ``last.pt`` every epoch and
    strips it at the end, so only a copy keeps the sha256 recorded for its row). Cancellation
    raises ``RunCancelled`` from the next batch, which leaves the previous epoch's copy intact.
    Ultralytics fires ``on_fit_epoch_end`` once more after validating ``best.pt``; that call is
    kept as ``final`` rather than logged as an epoch.
    """

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.trained_epoch: int | None = None
        self.logged: set[int] = set()
        self.final: dict[str, float] = {}
        self.last_epoch_metrics: dict[str, float] = {}
        self.batch = 0

    def callbacks(self) -> dict[str, Any]:
        return {"on_train_epoch_start": self.on_epoch_start, "on_train_batch_end": self.on_batch_end,
                "on_val_batch_end": self.check_stop, "on_train_epoch_end": self.on_train_epoch_end,
                "on_fit_epoch_end": self.on_fit_epoch_end}

    def check_stop(self, _obj: Any = None) -> None:
        if self.ctx.should_stop():
            raise RunCancelled("cancelled on request")

    def on_epoch_start(self, trainer: Any) -> None:
        self.batch = 0
        self.check_stop()

    def on_batch_end(self, trainer: Any) -> None:
        nb = len(trainer.train_loader)
        self.batch = min(self.batch + 1, nb)
        self.ctx.progress(trainer.epoch * nb + self.batch, trainer.epochs * nb, "train")
        self.check_stop()

    def on_train_epoch_end(self, trainer: Any) -> None:
        self.trained_epoch = trainer.epoch

    def on_fit_epoch_end(self, trainer: Any) -> None:
        epoch = trainer.epoch
        metrics = rename_metrics(dict(trainer.metrics))
        if epoch != self.trained_epoch or epoch in self.logged:
            self.final = metrics  # Ultralytics' closing validation of best.pt
            return
        self.logged.add(epoch)
        if trainer.tloss is not None:
            losses = trainer.label_loss_items(trainer.tloss, prefix="train")
            metrics.update({k: float(v) for k, v in dict(losses).items()})
        lrs = getattr(trainer, "lr", None) or {}
        if lrs:
            metrics["lr"] = float(next(iter(lrs.values())))
        self.last_epoch_metrics = metrics
        self.ctx.log(metrics, step=epoch, epoch=epoch)
        if trainer.last.exists():
            fitness = trainer.fitness
            best = fitness is not None and trainer.best_fitness is not None and fitness >= trainer.best_fitness
            copy = snapshot(trainer.last, epoch, keep=KEEP_CHECKPOINTS)
            self.ctx.checkpoint(copy, step=epoch, monitored=None if fitness is None else float(fitness),
                                best=bool(best))
