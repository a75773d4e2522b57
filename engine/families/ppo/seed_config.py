"""How the VTracer PPO system's configs (seed 001: ``ExecutionConfig``, ``model_config``,
``training_config``, the checkpoint and validation managers' settings) read as a ``ppo`` config
(``python -m engine config import ppo FILE``)."""
from __future__ import annotations

from typing import Any

from engine.config_import import Rename, SeedMapping

__all__ = ["SEED_CONFIG"]


def _monitor(value: Any) -> str:
    """The checkpoint manager's ``monitor_metric``: ``quality_score`` is val/ssim here."""
    names = {"quality_score": "ssim", "ssim_score": "ssim", "success_rate": "success_rate", "reward": "reward",
             "stability_score": "stability", "consistency_score": "consistency", "psnr_score": "psnr"}
    key = str(value).removeprefix("val/")
    if key not in names and key not in names.values():
        raise ValueError(f"one of {', '.join(sorted(names))}")
    return names.get(key, key)


IMPORT_SPLIT = ("a setting of the dataset import, where each category is split once: "
                "python -m engine import logos FOLDER --name NAME --val-ratio 0.2 --test-ratio 0.1")

SEED_CONFIG = SeedMapping(
    system="PPO training infrastructure for VTracer (seed 001)",
    renames={
        "use_curriculum": Rename("curriculum", "the curriculum switch"),
        "max_training_steps": Rename("total_timesteps", "SB3 counts environment steps as timesteps"),
        "validation_frequency": Rename("eval_freq", "timesteps between validations"),
        "checkpoint_frequency": Rename("checkpoint_freq", "timesteps between checkpoints"),
        "save_frequency": Rename("checkpoint_freq", "the checkpoint manager's frequency"),
        "max_checkpoints": Rename("keep_checkpoints", "periodic checkpoints kept on disk"),
        "monitor_metric": Rename("monitor_metric", "the validation metric that picks best.pt", _monitor),
        "images_per_category": Rename("eval_images_per_category", "validation images per category"),
        "episodes": Rename("eval_episodes", "episodes per validation image"),
        "target_quality": Rename("target_simple", "one target for every category: set target_<category> to differ"),
        "quality_thresholds.simple": Rename("target_simple", "per-category target SSIM"),
        "quality_thresholds.text": Rename("target_text", "per-category target SSIM"),
        "quality_thresholds.gradient": Rename("target_gradient", "per-category target SSIM"),
        "quality_thresholds.complex": Rename("target_complex", "per-category target SSIM"),
        "sampling_strategy": Rename("eval_sampling", "which validation images a validation takes"),
    },
    dropped={
        "experiment_name": "runs are grouped by tags and sweeps, not an experiment name",
        "data_root_path": "the dataset is imported once and chosen at launch (--dataset)",
        "output_dir": "Trainyard keeps each run in its own folder under the runs folder",
        "checkpoint_dir": "checkpoints live in the run folder",
        "enable_resource_monitoring": "every run records its resources (worker manifest)",
        "resource_monitoring_interval": "every run records its resources (worker manifest)",
        "memory_limit_gb": "a worker's limits are the machine's; choose n_envs and cache_size to fit",
        "parallel_workers": "environments run in-process: n_envs",
        "validation_split_ratio": IMPORT_SPLIT,
        "validation_ratio": IMPORT_SPLIT,
        "test_ratio": IMPORT_SPLIT,
        "training_ratio": "the rest of each category trains (1 - val_ratio - test_ratio, set at import)",
        "auto_scan": "a dataset is scanned when it is imported",
        "image_path": "episodes take images from the dataset",
    },
)
