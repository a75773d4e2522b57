"""The ``transition`` family's config: a CNN + transformer that predicts the 6-DoF action between
two frames, trained with per-patient (per-group) splits on PyTorch Lightning.

Light on purpose (pydantic only): pages validate forms with it. ``configs/transition.yaml`` holds
the same defaults with a comment per key.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from engine.configs import INIT_VERSION_HELP
from engine.core import FamilyConfig
from engine.devices import AMP_HELP, DEVICE_HELP, DeviceStr, check_device_fields, device_field, gpus_field

__all__ = ["TransitionConfig", "AXES", "SPLITS", "per_axis"]

AXES = ("x", "y", "z", "roll", "pitch", "yaw")
SPLITS = ("train", "val", "test")


def _names(value: list[str] | str | None) -> list[str]:
    """Accept a list or a comma-separated string (CLI ``--set train_patients=a,b``)."""
    if value is None:
        return []
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, (list, tuple)):
        items = value
    else:
        raise ValueError("must be a list of patient folder names or a comma-separated string")
    return [str(v).strip() for v in items if str(v).strip()]


class TransitionConfig(FamilyConfig):
    # data and splits
    image_size: int = Field(32, ge=16, le=512, description="frames are resized to this square size (grayscale)")
    manual_splits: bool = Field(False, description="use the train/val/test patient lists instead of an automatic split")
    train_patients: list[str] = Field(default_factory=list, description="manual split: patient folders to train on")
    val_patients: list[str] = Field(default_factory=list, description="manual split: patient folders to validate on")
    test_patients: list[str] = Field(default_factory=list, description="manual split: patient folders to test on")
    train_ratio: float = Field(0.7, gt=0, lt=1, description="automatic split: share of patients for training")
    val_ratio: float = Field(0.15, gt=0, lt=1, description="automatic split: share of patients for validation")
    test_ratio: float = Field(0.15, gt=0, lt=1, description="automatic split: share of patients for testing")
    min_samples_per_group: int = Field(5, ge=1, le=1_000_000,
                                       description="launch gate: fewest transitions per patient folder")
    debug_fraction: float = Field(1.0, gt=0, le=1, description="debug mode: train, validate and test on this share "
                                  "of each split's transitions, at least one per patient (1: all)")
    num_workers: int = Field(0, ge=0, le=64, description="data loader worker processes (0: in the run's process)")
    persistent_workers: bool = Field(False, description="keep the data loader workers between epochs (with num_workers > 0)")
    min_free_disk_mb: int = Field(500, ge=0, le=10_000_000, description="pre-training check: refuse to start with "
                                  "less free disk than this in the run folder (0: no check)")
    # model
    d_model: int = Field(64, ge=8, le=2048, description="transformer width")
    num_heads: int = Field(4, ge=1, le=64, description="attention heads (must divide d_model)")
    num_layers: int = Field(2, ge=1, le=48, description="transformer encoder layers")
    token_type: Literal["channel", "spatial"] = Field(
        "spatial", description="tokens: one per CNN channel, or one per spatial position of the feature map")
    cnn_channels: int = Field(32, ge=4, le=1024, description="feature channels of the CNN extractor")
    dropout: float = Field(0.1, ge=0, lt=1, description="transformer dropout")
    # loss
    smooth_l1_beta: float = Field(1.0, gt=0, le=100, description="beta of the SmoothL1 (Huber) losses")
    lambda_latent: float = Field(0.2, ge=0, le=100, description="weight of the latent (next-frame feature) loss")
    lambda_t2_action: float = Field(1.0, ge=0, le=100, description="weight of the auxiliary at2 pose loss")
    primary_task_only: bool = Field(False, description="train on the main action loss alone")
    # optimisation
    optimizer: Literal["adamw", "adam", "sgd"] = Field("adamw", description="optimizer")
    lr: float = Field(1e-3, gt=0, le=10, description="learning rate")
    weight_decay: float = Field(1e-4, ge=0, le=1, description="weight decay")
    momentum: float = Field(0.9, ge=0, lt=1, description="SGD momentum")
    scheduler: Literal["none", "cosine", "step", "plateau"] = Field("cosine", description="learning-rate schedule")
    warmup_epochs: int = Field(1, ge=0, le=1000,
                               description="linear learning-rate warmup over this many epochs' optimizer steps (0: off)")
    step_size: int = Field(10, ge=1, le=100_000, description="step scheduler: epochs between decays")
    gamma: float = Field(0.5, gt=0, le=1, description="step/plateau scheduler: decay factor")
    plateau_patience: int = Field(3, ge=0, le=10_000, description="plateau scheduler: epochs without improvement")
    batch_size: int = Field(16, ge=1, le=65_536, description="training batch size")
    max_epochs: int = Field(150, ge=1, le=100_000, description="maximum epochs")
    early_stop_patience: int = Field(20, ge=0, le=100_000,
                                     description="stop after this many epochs without val_main_task_loss improvement (0: off)")
    select_model: Literal["best", "last"] = Field(
        "best", description="the model the run registers: the best checkpoint by val_main_task_loss, or the last epoch's")
    gradient_clip_val: float = Field(1.0, ge=0, le=1e6, description="clip the gradient norm to this (0: off)")
    accumulate_grad_batches: int = Field(1, ge=1, le=1024, description="batches per optimizer step")
    precision: Literal["auto", "32-true", "16-mixed", "bf16-mixed"] = Field(
        "auto", description="auto: 16-mixed on CUDA, 32-true elsewhere")
    device: DeviceStr = device_field(description=DEVICE_HELP + "; several GPUs train with Lightning DDP")
    gpus: int | None = gpus_field()
    amp: bool = Field(True, description=AMP_HELP + ": with precision auto, 16-mixed on CUDA when on, 32-true when off")
    seed: int = Field(42, ge=0, le=2**32 - 1, description="random seed (split, initialisation, shuffling)")
    data_fraction: float = Field(1.0, gt=0, le=1, description="share of the training split to train on, stratified by patient "
                                   "(same seed, same subset; val and test unchanged)")
    deterministic: bool = Field(True, description="deterministic algorithms (reproducible, a little slower)")
    initial_weights: str | None = Field(None, description="start from these weights (a file in the models folder)")
    init_version: int | None = Field(None, ge=1, description=INIT_VERSION_HELP)

    @field_validator("train_patients", "val_patients", "test_patients", mode="before")
    @classmethod
    def _patients(cls, value):
        return _names(value)

    @model_validator(mode="after")
    def _check(self) -> "TransitionConfig":
        check_device_fields(self)
        total = self.train_ratio + self.val_ratio + self.test_ratio
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"train_ratio + val_ratio + test_ratio must be 1 (got {total:g})")
        if self.d_model % self.num_heads:
            raise ValueError(f"num_heads ({self.num_heads}) must divide d_model ({self.d_model})")
        if self.manual_splits:
            lists = {"train_patients": self.train_patients, "val_patients": self.val_patients,
                     "test_patients": self.test_patients}
            for name, names in lists.items():
                if not names:
                    raise ValueError(f"manual_splits needs at least one patient in {name}")
                if len(set(names)) != len(names):
                    raise ValueError(f"{name} lists a patient twice")
            seen: dict[str, str] = {}
            for name, names in lists.items():
                for patient in names:
                    if patient in seen:
                        raise ValueError(f"patient {patient!r} is in both {seen[patient]} and {name}: "
                                         f"a patient may appear in one split only")
                    seen[patient] = name
        return self

    def ratios(self) -> tuple[float, float, float]:
        return self.train_ratio, self.val_ratio, self.test_ratio


def per_axis(values: dict, prefix: str = "test") -> dict[str, float]:
    """``{axis: error}`` from a summary's ``<prefix>/mae_<axis>`` entries."""
    return {a: float(values[f"{prefix}/mae_{a}"]) for a in AXES if f"{prefix}/mae_{a}" in values}
