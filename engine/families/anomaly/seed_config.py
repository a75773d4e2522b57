"""How the drawings system's ``TrainingConfig`` (seed 000: ``model:``/``optimizer:``/
``scheduler:``/``data:`` sections, ``save_plots``, ``validation_frequency`` ...) reads as an
``anomaly`` config (``python -m engine config import anomaly FILE``)."""
from __future__ import annotations

from typing import Any

from engine.config_import import Rename, SeedMapping

__all__ = ["SEED_CONFIG"]


def _enum(value: Any) -> str:
    """``OptimizerType.ADAMW`` / ``ADAMW`` / ``adamw`` → ``adamw``."""
    return str(value).rpartition(".")[2].lower()


def _age_range(value: Any) -> str:
    """``[3.0, 6.0]`` → ``3-6`` (the seed's ``age_min``/``age_max`` pair)."""
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError("expected [LO, HI]")
    return f"{float(value[0]):g}-{float(value[1]):g}"


SEED_CONFIG = SeedMapping(
    system="children's drawings anomaly detection (seed 000)",
    renames={
        "dropout_rate": Rename("dropout", "Trainyard's name for the autoencoder's dropout"),
        "learning_rate": Rename("lr", "the learning rate is `lr` here"),
        "optimizer.type": Rename("optimizer", "the optimizer's type is the `optimizer` choice", _enum),
        "scheduler.type": Rename("scheduler", "the scheduler's type is the `scheduler` choice", _enum),
        "validation_split": Rename("val_split", "Trainyard's name for the validation share"),
        "train_ratio": Rename("train_split", "split shares are *_split here"),
        "validation_ratio": Rename("val_split", "split shares are *_split here"),
        "test_ratio": Rename("test_split", "split shares are *_split here"),
        "random_seed": Rename("seed", "one seed drives split and initialisation"),
        "early_stopping_patience": Rename("patience", "early stopping's patience"),
        "early_stopping_min_delta": Rename("min_delta", "early stopping's smallest improvement"),
        "gradient_clip_norm": Rename("grad_clip", "gradient norm clipping"),
        "age_range": Rename("age_group", "one age group per run, as LO-HI", _age_range),
        "mixed_precision": Rename("amp", "mixed precision on CUDA is `amp` in every family"),
        "save_best_only": Rename("select_model", "register the best epoch (true) or the last (false)",
                                 lambda v: "best" if v else "last"),
    },
    dropped={
        "job_name": "a run's name is given at launch (--name, the Launch page)",
        "experiment_name": "runs are grouped by tags and sweeps, not an experiment name",
        "environment": "every Trainyard run is local to a worker",
        "output_dir": "Trainyard keeps each run in its own folder under the runs folder",
        "model_save_path": "models are registered from the run folder",
        "log_save_path": "metrics go to the database, logs to the run folder",
        "encoder_dim": "the input width is the backbone's embedding width (+1 for the age), read from the data",
        "gradient_checkpointing": "the autoencoder is small; there is no activation memory to save",
    },
)
