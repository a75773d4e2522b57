"""The LightningModule: losses, per-axis errors, optimizer and learning-rate schedule.

Loss per batch: SmoothL1 (``smooth_l1_beta``) between the predicted and the true action, both
standardised per axis (the main task), plus ``lambda_latent`` × the latent loss (the second frame's
pooled features, predicted from the first frame's and the action) plus ``lambda_t2_action`` × the
auxiliary pose loss (``at2_6dof``, standardised); with ``primary_task_only`` the main loss alone.
Errors per axis are reported in the data's own units (mm, degrees).
"""
from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torch.nn import functional as F

from engine.families.transition.config import AXES, TransitionConfig
from engine.families.transition.model import TransitionNet

__all__ = ["TransitionModule", "build_net", "to_input"]

PIXEL_MEAN, PIXEL_STD = 0.5, 0.25


def build_net(config: TransitionConfig) -> TransitionNet:
    return TransitionNet(image_size=config.image_size, cnn_channels=config.cnn_channels, d_model=config.d_model,
                         num_heads=config.num_heads, num_layers=config.num_layers, token_type=config.token_type,
                         dropout=config.dropout)


def to_input(frames: torch.Tensor) -> torch.Tensor:
    """uint8 frames (B, S, S) → normalised float (B, 1, S, S)."""
    return ((frames.float() / 255.0 - PIXEL_MEAN) / PIXEL_STD).unsqueeze(1)


class TransitionModule(L.LightningModule):
    """``config``: the run's validated config as plain data; ``norm``: per-axis mean and std of
    the training split's actions and ``at2`` poses (kept in every checkpoint, so a checkpoint
    alone is enough to predict)."""

    def __init__(self, config: dict[str, Any], norm: dict[str, list[float]]) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.config = TransitionConfig.model_validate(config)
        self.net = build_net(self.config)
        for name in ("change_mean", "change_std", "at2_mean", "at2_std"):
            self.register_buffer(name, torch.tensor(norm[name], dtype=torch.float32))

    def forward(self, frame1: torch.Tensor, frame2: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.net(to_input(frame1), to_input(frame2))

    def predict_action(self, frame1: torch.Tensor, frame2: torch.Tensor) -> torch.Tensor:
        """The 6-DoF action in the data's units."""
        return self(frame1, frame2)["action"].float() * self.change_std + self.change_mean

    def _losses(self, batch, split: str) -> torch.Tensor:
        frame1, frame2, change, at2 = batch
        out = self(frame1, frame2)
        cfg = self.config
        main = F.smooth_l1_loss(out["action"], (change - self.change_mean) / self.change_std, beta=cfg.smooth_l1_beta)
        t2 = F.smooth_l1_loss(out["at2"], (at2 - self.at2_mean) / self.at2_std, beta=cfg.smooth_l1_beta)
        latent = F.smooth_l1_loss(out["latent_pred"], out["latent_target"], beta=cfg.smooth_l1_beta)
        total = main if cfg.primary_task_only else main + cfg.lambda_latent * latent + cfg.lambda_t2_action * t2
        n = frame1.shape[0]
        log = {f"{split}_main_task_loss": main, f"{split}_latent_loss": latent, f"{split}_t2_action_loss": t2,
               f"{split}_total_loss" if split == "train" else f"{split}_loss": total}
        if split != "train":
            err = (out["action"].detach().float() * self.change_std + self.change_mean - change).abs()
            log.update({f"{split}_mae_{axis}": err[:, k].mean() for k, axis in enumerate(AXES)})
            log[f"{split}_mae_mean"] = err.mean()
        self.log_dict(log, on_step=False, on_epoch=True, batch_size=n)
        return total

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        return self._losses(batch, "train")

    def validation_step(self, batch, batch_idx: int) -> None:
        self._losses(batch, "val")

    def test_step(self, batch, batch_idx: int) -> None:
        self._losses(batch, "test")

    def optimizer_step(self, epoch, batch_idx, optimizer, optimizer_closure=None) -> None:
        """During the first ``warmup_epochs`` epochs' optimizer steps the scheduled learning rate is
        scaled by (step + 1) / warmup steps for this step only, then restored: the schedule itself
        (any of them, plateau included) never sees the scaled value. Adam's first updates are
        full-size whatever the gradient scale, so a fresh transformer settles before taking them at
        the full rate."""
        warmup = self.config.warmup_epochs * self._steps_per_epoch()
        if self.global_step >= warmup:
            optimizer.step(closure=optimizer_closure)
            return
        scale = (self.global_step + 1) / warmup
        scheduled = [group["lr"] for group in optimizer.param_groups]
        for group, lr in zip(optimizer.param_groups, scheduled):
            group["lr"] = lr * scale
        try:
            optimizer.step(closure=optimizer_closure)
        finally:
            for group, lr in zip(optimizer.param_groups, scheduled):
                group["lr"] = lr

    def _steps_per_epoch(self) -> int:
        batches = self.trainer.num_training_batches
        accumulate = self.trainer.accumulate_grad_batches
        return max(1, -(-int(batches) // accumulate)) if batches != float("inf") else 1

    def configure_optimizers(self):
        cfg = self.config
        if cfg.optimizer == "sgd":
            opt = torch.optim.SGD(self.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
        else:
            cls = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
            opt = cls(self.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        if cfg.scheduler == "cosine":
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.max_epochs)
        elif cfg.scheduler == "step":
            sched = torch.optim.lr_scheduler.StepLR(opt, step_size=cfg.step_size, gamma=cfg.gamma)
        elif cfg.scheduler == "plateau":
            sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=cfg.gamma,
                                                               patience=cfg.plateau_patience)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "monitor": "val_main_task_loss"}}
        else:
            return opt
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}
