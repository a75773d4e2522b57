"""How Cardiac Dreamer's training config (seed 004: ``model:``/``training:``/``data:``
sections, ``lr``, ``max_epochs``, ``precision: 16``, ``--manual_splits`` ...) reads as a
``transition`` config (``python -m engine config import transition FILE``)."""
from __future__ import annotations

from typing import Any

from engine.config_import import Rename, SeedMapping

__all__ = ["SEED_CONFIG"]


def _precision(value: Any) -> str:
    """Lightning's older ``16``/``32``/``bf16`` → today's names."""
    names = {"16": "16-mixed", "32": "32-true", "bf16": "bf16-mixed", "16-mixed": "16-mixed",
             "32-true": "32-true", "bf16-mixed": "bf16-mixed", "auto": "auto"}
    key = str(value)
    if key not in names:
        raise ValueError(f"one of {', '.join(names)}")
    return names[key]


SEED_CONFIG = SeedMapping(
    system="Cardiac Dreamer transition training (seed 004)",
    renames={
        "precision": Rename("precision", "Lightning's precision names", _precision),
        "learning_rate": Rename("lr", "the learning rate is `lr` here"),
        "max_epoch": Rename("max_epochs", "maximum epochs"),
        "epochs": Rename("max_epochs", "maximum epochs"),
        "early_stopping_patience": Rename("early_stop_patience", "epochs without val_main_task_loss improvement"),
        "patience": Rename("early_stop_patience", "epochs without val_main_task_loss improvement"),
        "dropout_rate": Rename("dropout", "transformer dropout"),
        "gradient_clip": Rename("gradient_clip_val", "Lightning's gradient_clip_val"),
        "resize": Rename("image_size", "frames are resized to a square"),
        "lambda_t2": Rename("lambda_t2_action", "the auxiliary at2 loss weight"),
    },
    dropped={
        "data_dir": "the dataset is imported once and chosen at launch (--dataset)",
        "output_dir": "Trainyard keeps each run in its own folder under the runs folder",
        "resume_from_checkpoint": "resume a run from the Progress page or its checkpoint list",
        "experiment_name": "runs are grouped by tags and sweeps, not an experiment name",
        "log_dir": "TensorBoard and CSV logs go to the run folder's logs/",
        "save_top_k": "Trainyard keeps the top 3 by val_main_task_loss and last.ckpt",
        "monitor": "checkpoints and early stopping watch val_main_task_loss",
        "accelerator": "`device` chooses where to train",
        "devices": "one device per run; `device` chooses it",
        "in_channels": "frames are grayscale; the network reads one channel",
        "action_dim": "the action is 6-DoF (x, y, z, roll, pitch, yaw)",
    },
)
