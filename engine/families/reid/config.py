"""The ``reid`` family's config: torchreid's model, loss, optimizer, scheduler and data options,
validated without importing torchreid.

Light on purpose (pydantic only): pages validate forms with it. ``configs/reid.yaml`` holds the
same defaults with a comment per key. Choices are the ones torchreid 0.2.5 itself accepts
(``build_model``, ``build_optimizer``, ``build_lr_scheduler``, ``build_transforms``).
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from engine.configs import deprecated_alias
from engine.core import FamilyConfig
from engine.devices import AMP_HELP, DEVICE_HELP, DeviceStr, check_device_fields, device_field, gpus_field

__all__ = ["ReidConfig", "MODELS", "OPTIMIZERS", "SCHEDULERS", "TRANSFORMS", "uses_identity_sampler"]

MODELS = ("osnet_x1_0", "osnet_x0_75", "osnet_x0_5", "osnet_x0_25", "osnet_ibn_x1_0",
          "osnet_ain_x1_0", "osnet_ain_x0_75", "osnet_ain_x0_5", "osnet_ain_x0_25")
OPTIMIZERS = ("adam", "amsgrad", "sgd", "rmsprop", "radam")  # torchreid 0.2.5's AVAI_OPTIMS (no adamw there)
SCHEDULERS = ("single_step", "multi_step", "cosine")
TRANSFORMS = ("random_flip", "random_crop", "random_erase", "color_jitter", "random_patch")

ModelName = Literal["osnet_x1_0", "osnet_x0_75", "osnet_x0_5", "osnet_x0_25", "osnet_ibn_x1_0",
                    "osnet_ain_x1_0", "osnet_ain_x0_75", "osnet_ain_x0_5", "osnet_ain_x0_25"]
Transform = Literal["random_flip", "random_crop", "random_erase", "color_jitter", "random_patch"]
Layer = Literal["conv1", "maxpool", "conv2", "conv3", "conv4", "conv5", "global_avgpool", "fc", "classifier"]  # OSNet's children


class ReidConfig(FamilyConfig):
    # model
    model: ModelName = Field("osnet_x1_0", description="OSNet variant (torchreid.models.build_model name)")
    weights: str | None = Field(None, description="ImageNet/ReID weights file in the models folder to start from "
                                                  "(matching layers load; nothing is downloaded)")
    init_version: int | None = Field(None, ge=1, description="transfer: start from this earlier reid model "
                                                             "version's backbone (new classifier)")
    fixbase_epoch: int = Field(0, ge=0, le=1000, description="train only open_layers for the first N epochs")
    open_layers: list[Layer] = Field(["classifier"], min_length=1, description="layers trained while the base is frozen")
    # loss
    loss: Literal["softmax", "triplet"] = Field("softmax", description="softmax: identity classification; triplet: "
                                                "weight_t x hard-triplet + weight_x x softmax")
    label_smooth: bool = Field(True, description="label smoothing on the softmax (cross-entropy) loss")
    margin: float = Field(0.3, gt=0, le=10, description="triplet loss margin")
    weight_t: float = Field(1.0, ge=0, le=100, description="triplet loss weight (triplet loss only)")
    weight_x: float = Field(1.0, ge=0, le=100, description="softmax loss weight (triplet loss only; 0: pure triplet)")
    # optimisation
    optimizer: Literal["adam", "amsgrad", "sgd", "rmsprop", "radam"] = Field("adam", description="optimizer")
    lr: float = Field(0.0003, gt=0, le=10, description="learning rate")
    weight_decay: float = Field(0.0005, ge=0, le=1, description="weight decay (L2)")
    momentum: float = Field(0.9, ge=0, lt=1, description="SGD / RMSprop momentum")
    scheduler: Literal["single_step", "multi_step", "cosine"] = Field("single_step", description="learning-rate schedule")
    stepsize: int = Field(20, ge=1, le=10000, description="single_step: epochs between decays")
    milestones: list[int] = Field([30, 50], min_length=1, description="multi_step: epochs at which lr decays")
    gamma: float = Field(0.1, gt=0, le=1, description="decay factor of single_step / multi_step")
    epochs: int = Field(60, ge=1, le=10000, description="epochs to train")
    batch_size: int = Field(32, ge=2, le=4096, description="training images per batch")
    test_batch_size: int = Field(100, ge=1, le=4096, description="images per batch when extracting features")
    sampler: Literal["auto", "RandomSampler", "RandomIdentitySampler"] = Field(
        "auto", description="training sampler; auto = RandomIdentitySampler for triplet, RandomSampler for softmax")
    num_instances: int = Field(4, ge=1, le=64, description="RandomIdentitySampler: images of each identity per batch")
    # data
    height: int = Field(256, ge=16, le=1024, description="input height in pixels")
    width: int = Field(128, ge=8, le=1024, description="input width in pixels")
    transforms: list[Transform] = Field(["random_flip"], description="training augmentations (torchreid names)")
    # evaluation
    eval_freq: int = Field(5, ge=1, le=10000, description="evaluate query vs gallery every N epochs (and at the end)")
    select_model: Literal["best", "last"] = Field("best", description="the model a run registers: best = the epoch "
                                                                      "with the best val rank-1, last = the final one")
    dist_metric: Literal["euclidean", "cosine"] = Field("euclidean", description="feature distance for ranking")
    normalize_feature: bool = Field(False, description="L2-normalise features before computing distances")
    # launch gate
    min_identities: int = Field(10, ge=0, le=100000, description="launch gate: fewest train identities (0: off)")
    min_images_per_identity: int = Field(2, ge=0, le=1000, description="launch gate: fewest images per train identity (0: off)")
    # machine
    workers: int = Field(4, ge=0, le=64, description="dataloader worker processes (0: load in the training process)")
    cpu_threads: int = Field(0, ge=0, le=256, description="torch CPU threads (0: torch's default)")
    device: DeviceStr = device_field(description=DEVICE_HELP + "; several GPUs train with torch DataParallel")
    gpus: int | None = gpus_field()
    amp: bool = Field(False, description=AMP_HELP + ": bfloat16 autocast of the forward pass (torchreid's engine has no gradient scaler)")
    seed: int = Field(1, ge=0, le=2**31 - 1, description="random seed (initialisation, sampling, augmentation)")

    @model_validator(mode="before")
    @classmethod
    def _old_keys(cls, data):
        return deprecated_alias(data, old="init_model_version", new="init_version", family="reid")

    @model_validator(mode="after")
    def _consistent(self) -> "ReidConfig":
        check_device_fields(self)
        if self.loss == "triplet" and self.weight_t + self.weight_x <= 0:
            raise ValueError("triplet loss needs weight_t + weight_x > 0")
        if uses_identity_sampler(self) and self.batch_size < self.num_instances:
            raise ValueError(f"batch_size ({self.batch_size}) must be at least num_instances ({self.num_instances})")
        if list(self.milestones) != sorted(set(self.milestones)):
            raise ValueError("milestones must be increasing epoch numbers without repeats")
        return self


def uses_identity_sampler(config: ReidConfig) -> bool:
    """Whether batches are drawn as ``batch_size / num_instances`` identities x ``num_instances`` images."""
    if config.sampler == "auto":
        return config.loss == "triplet"
    return config.sampler == "RandomIdentitySampler"
