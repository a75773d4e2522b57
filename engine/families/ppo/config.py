"""The ``ppo`` family's config: a stable-baselines3 PPO agent that picks VTracer parameters per
image, trained with a curriculum over image categories.

Light on purpose (pydantic only): pages validate forms with it. ``configs/ppo.yaml`` holds the
same defaults with a comment per key.
"""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from engine.configs import INIT_VERSION_HELP
from engine.core import FamilyConfig
from engine.devices import DeviceStr, check_device_fields, device_field, gpus_field

__all__ = ["PpoConfig", "CATEGORIES", "DEFAULT_TARGETS", "DEFAULT_CATEGORY_MAP", "Category"]

Category = Literal["simple", "text", "gradient", "complex"]
CATEGORIES: tuple[str, ...] = ("simple", "text", "gradient", "complex")  # curriculum order, easiest first
DEFAULT_TARGETS: dict[str, float] = {"simple": 0.85, "text": 0.80, "gradient": 0.75, "complex": 0.70}
DEFAULT_CATEGORY_MAP: dict[str, str] = {
    "simple_geometric": "simple", "simple": "simple", "text_based": "text", "text": "text",
    "gradients": "gradient", "gradient": "gradient", "complex": "complex", "abstract": "complex",
}


class PpoConfig(FamilyConfig):
    # PPO (stable-baselines3)
    learning_rate: float = Field(3e-4, gt=0, le=1, description="Adam learning rate")
    n_steps: int = Field(64, ge=8, le=65536, description="environment steps per env per rollout")
    batch_size: int = Field(64, ge=2, le=65536, description="minibatch size of each PPO update")
    n_epochs: int = Field(10, ge=1, le=100, description="passes over each rollout")
    gamma: float = Field(0.9, ge=0, le=1, description="discount factor")
    gae_lambda: float = Field(0.95, ge=0, le=1, description="GAE lambda")
    clip_range: float = Field(0.2, gt=0, le=1, description="PPO clipping of the probability ratio")
    ent_coef: float = Field(0.0, ge=0, le=1, description="entropy bonus weight")
    vf_coef: float = Field(0.5, ge=0, le=10, description="value loss weight")
    max_grad_norm: float = Field(0.5, gt=0, le=100, description="gradient norm clip")
    net_arch: list[Annotated[int, Field(ge=1, le=4096)]] = Field([64, 64], min_length=1, max_length=8,
                                                                 description="hidden layer widths of policy and value nets")
    n_envs: int = Field(1, ge=1, le=64, description="parallel environments (in-process vectorised)")
    total_timesteps: int = Field(4096, ge=16, le=100_000_000, description="environment steps to train")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="random seed (split sampling, policy, environment)")
    data_fraction: float = Field(1.0, gt=0, le=1, description="share of the training split to train on, stratified by image category "
                                   "(same seed, same subset; val and test unchanged)")
    device: DeviceStr = device_field(
        "cpu", "where the policy trains (small MLPs run best on cpu): auto, cpu, mps, cuda or cuda:N "
               "(one GPU: stable-baselines3 has no multi-GPU training)")
    gpus: int | None = gpus_field()
    init_weights: str | None = Field(None, description="start from a policy file in the models folder (a Trainyard ppo model.pt)")
    init_version: int | None = Field(None, ge=1, description=INIT_VERSION_HELP)
    # environment
    max_steps: int = Field(4, ge=1, le=100, description="parameter adjustments per episode")
    action_scale: float = Field(0.5, gt=0, le=1, description="largest change of a parameter per step, as a fraction of its range")
    target_simple: float = Field(0.85, ge=0, le=1, description="SSIM that ends a 'simple' episode as a success")
    target_text: float = Field(0.80, ge=0, le=1, description="SSIM that ends a 'text' episode as a success")
    target_gradient: float = Field(0.75, ge=0, le=1, description="SSIM that ends a 'gradient' episode as a success")
    target_complex: float = Field(0.70, ge=0, le=1, description="SSIM that ends a 'complex' episode as a success")
    size_penalty: float = Field(0.02, ge=0, le=10, description="reward lost per unit increase of ln(SVG bytes)")
    time_penalty: float = Field(0.5, ge=0, le=100, description="reward lost per second of conversion")
    success_bonus: float = Field(0.1, ge=0, le=10, description="reward for reaching the category's target")
    cache_size: int = Field(4096, ge=0, le=1_000_000, description="conversions kept in memory, keyed by (image hash, parameters)")
    disk_cache: bool = Field(False, description="also keep conversions on disk in the run folder")
    # curriculum
    curriculum: bool = Field(True, description="train category by category (simple → text → gradient → complex)")
    curriculum_order: list[Category] = Field(list(CATEGORIES), min_length=1, max_length=4, description="stage order")
    advance_success_rate: float = Field(0.8, ge=0, le=1, description="success rate over the window that advances a stage")
    success_window: int = Field(20, ge=1, le=10000, description="recent episodes the success rate is measured over")
    stage_budget: float = Field(0.25, gt=0, le=1, description="fraction of total_timesteps after which a stage advances anyway")
    replay_fraction: float = Field(0.25, ge=0, le=1, description="share of episodes drawn from earlier stages' categories")
    # validation and checkpoints
    eval_freq: int = Field(1024, ge=1, le=100_000_000, description="timesteps between validations")
    eval_images_per_category: int = Field(4, ge=1, le=1000, description="validation images per category and validation")
    eval_sampling: Literal["round_robin", "random", "least_evaluated"] = Field(
        "round_robin", description="which validation images a validation takes")
    eval_episodes: int = Field(1, ge=1, le=100, description="episodes per validation image (1: one deterministic "
                               "episode; more: stability and consistency scores per category)")
    eval_variation: Literal["stochastic", "perturbed_start"] = Field(
        "stochastic", description="what differs between a validation image's episodes: the policy samples its "
        "actions, or each episode starts from randomly perturbed parameters (deterministic policy)")
    start_perturbation: float = Field(0.1, ge=0, le=1, description="perturbed_start: largest change of each "
                                      "starting parameter, as a fraction of its range")
    monitor_metric: Literal["ssim", "success_rate", "reward", "psnr", "stability", "consistency"] = Field(
        "ssim", description="the validation metric (val/<name>, higher is better) that picks best.pt and early stopping")
    eval_patience: int = Field(0, ge=0, le=100_000, description="early stopping: validations without improvement "
                               "of the monitored metric before training stops (0: off)")
    eval_reports: bool = Field(True, description="write validation/validation_report_<step>.json at every validation")
    eval_plots: bool = Field(True, description="write validation/visualizations_<step>/ plots at every validation")
    stage_checkpoints: bool = Field(True, description="validate and keep a stage_<n>_<category>.pt checkpoint "
                                    "at every curriculum advance")
    checkpoint_freq: int = Field(1024, ge=1, le=100_000_000, description="timesteps between checkpoints")
    checkpoint_every_s: float = Field(0.0, ge=0, le=604_800, description="also checkpoint when this many seconds "
                                      "have passed since the last one (0: off)")
    keep_checkpoints: int = Field(3, ge=1, le=1000, description="periodic checkpoints kept on disk (the best one is kept too)")
    select_model: Literal["best", "last"] = Field(
        "best", description="the policy the run registers: the best-validated checkpoint (val/ssim) or the last")
    min_images_per_category: int = Field(2, ge=1, le=100000, description="fewest usable images a trained category needs")

    @field_validator("curriculum_order")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("categories in curriculum_order must be distinct")
        return value

    @model_validator(mode="after")
    def _repeat(self) -> "PpoConfig":
        if self.monitor_metric in ("stability", "consistency") and self.eval_episodes < 2:
            raise ValueError(f"monitor_metric {self.monitor_metric!r} is measured across episodes: "
                             f"set eval_episodes to 2 or more (it is {self.eval_episodes})")
        return self

    @model_validator(mode="after")
    def _batch(self) -> "PpoConfig":
        rollout = self.n_steps * self.n_envs
        if self.batch_size > rollout:
            raise ValueError(f"batch_size {self.batch_size} is larger than a rollout (n_steps × n_envs = {rollout})")
        return self

    @model_validator(mode="after")
    def _devices(self):
        check_device_fields(self, max_gpus=1)
        return self

    def target(self, category: str) -> float:
        """The SSIM that counts as success for ``category``."""
        return float(getattr(self, f"target_{category}"))
