"""The ``ppo`` family: a stable-baselines3 PPO agent that picks VTracer's raster-to-vector
parameters per logo, trained with a curriculum over categories, and its ``logos`` dataset kind.

This module stays light (pages import it through the registry); stable-baselines3, gymnasium,
torch, vtracer and resvg are imported only by ``env``, ``trainer`` and ``predict`` on workers.
"""
from __future__ import annotations

from engine.core import Conformance, Family, Headline
from engine.datasets import DatasetKind, register_kind

__all__ = ["FAMILY", "KIND"]

KIND = register_kind(DatasetKind(
    key="logos", title="Raster logos in category folders (simple, text, gradient, complex)",
    scan_path="engine.families.ppo.data:scan", sample_path="engine.families.ppo.samples:generate"))

FAMILY = Family(
    key="ppo", title="PPO agent choosing VTracer parameters per logo (curriculum over categories)",
    config_path="engine.families.ppo.config:PpoConfig",
    trainer_path="engine.families.ppo.trainer:PpoTrainer",
    dataset_kind="logos", tasks=(),
    description="stable-baselines3 PPO in a gymnasium environment that adjusts VTracer's eight parameters; "
                "reward = SSIM gained minus SVG size and time penalties. Curriculum simple → text → gradient → "
                "complex; the agent is compared with VTracer's defaults on held-out logos.",
    gate_path="engine.families.ppo.sufficiency:launch_blockers",
    headlines=(Headline("test/ssim", "max", "mean SSIM reached"),
               Headline("test/success_rate", "max", "success rate (target SSIM reached)"),
               Headline("test/reward", "max", "mean episode reward")),
    evaluator_path="engine.families.ppo.evaluate:evaluate",
    eval_splits_path="engine.families.ppo.evaluate:eval_splits",
    conformance=Conformance(
        config={"total_timesteps": 512, "n_steps": 64, "batch_size": 64, "eval_freq": 256, "checkpoint_freq": 128,
                "keep_checkpoints": 2, "eval_images_per_category": 1, "success_window": 8, "stage_budget": 0.2},
        step_metric="rollout/mean_ssim", steps=tuple(range(64, 513, 64)),
        sample_options={"count": 5, "size": 48, "seed": 1}))
