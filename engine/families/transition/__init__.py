"""The ``transition`` family: a CNN + transformer that predicts the 6-DoF action between two
frames, trained on PyTorch Lightning with per-patient splits, and its ``transitions`` dataset kind.

This module stays light (pages import it through the registry); torch and Lightning are imported
only by ``model``, ``module``, ``bridge``, ``frames``, ``trainer`` and ``predict``, on workers.
"""
from __future__ import annotations

from engine.core import Conformance, Family, Headline
from engine.datasets import DatasetKind, register_kind

__all__ = ["FAMILY", "KIND"]

KIND = register_kind(DatasetKind(
    key="transitions", title="Frame transitions: patient folders with transitions_dataset.json + frames",
    scan_path="engine.families.transition.data:scan", sample_path="engine.families.transition.samples:generate"))

FAMILY = Family(
    key="transition", title="6-DoF transition (CNN + transformer on Lightning, per-patient splits)",
    config_path="engine.families.transition.config:TransitionConfig",
    trainer_path="engine.families.transition.trainer:TransitionTrainer",
    dataset_kind="transitions", tasks=(),
    description="Predicts the 6-DoF action (x, y, z, roll, pitch, yaw) between two frames. Patients are split "
                "70/15/15 (or by hand) so no patient is in two splits; SmoothL1 main loss plus latent and "
                "auxiliary at2 losses; top-3 checkpoints by val_main_task_loss, last and final; per-axis test error.",
    gate_path="engine.families.transition.sufficiency:launch_blockers",
    headlines=(Headline("val/main_task_loss", "min", "val main-task loss"),
               Headline("test/mae_mean", "min", "test mean per-axis error")),
    evaluator_path="engine.families.transition.evaluate:evaluate",
    eval_splits_path="engine.families.transition.splits:eval_splits",
    conformance=Conformance(
        # 15 tiny epochs: one takes a fraction of a second, and the cancel sent after the first one's
        # metric must land while the run still trains (5 were over before it did on a quiet machine)
        config={"d_model": 16, "num_heads": 2, "num_layers": 1, "cnn_channels": 8, "batch_size": 16, "max_epochs": 15,
                "early_stop_patience": 0},
        step_metric="val/main_task_loss", steps=tuple(range(15)),
        sample_options={"groups": 6, "per_group": 20, "size": 32, "seed": 1}))
