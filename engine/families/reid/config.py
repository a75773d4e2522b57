"""The ``reid`` family's config: torchreid's model, loss, optimizer, scheduler and data options,
validated without importing torchreid.

Light on purpose (pydantic only): pages validate forms with it. ``configs/reid.yaml`` holds the
same defaults with a comment per key. Choices are the ones torchreid 0.2.5 itself accepts
(``build_model``, ``build_optimizer``, ``build_lr_scheduler``, ``build_transforms``).
"""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from engine.configs import deprecated_alias
from engine.core import DatasetRef, FamilyConfig
from engine.devices import DEVICE_HELP, DeviceStr, check_device_fields, device_field, gpus_field

__all__ = ["ReidConfig", "MODELS", "OPTIMIZERS", "TORCH_ONLY_OPTIMIZERS", "MAX_EXTRA_DATASETS", "SCHEDULERS",
           "TRANSFORMS", "DatasetId", "uses_identity_sampler"]

MODELS = ("osnet_x1_0", "osnet_x0_75", "osnet_x0_5", "osnet_x0_25", "osnet_ibn_x1_0",
          "osnet_ain_x1_0", "osnet_ain_x0_75", "osnet_ain_x0_5", "osnet_ain_x0_25")
OPTIMIZERS = ("adam", "amsgrad", "sgd", "rmsprop", "radam", "adamw")  # torchreid 0.2.5's AVAI_OPTIMS + adamw
TORCH_ONLY_OPTIMIZERS = ("adamw",)  # not in torchreid 0.2.5: built with torch.optim.AdamW
SCHEDULERS = ("single_step", "multi_step", "cosine")
TRANSFORMS = ("random_flip", "random_crop", "random_erase", "color_jitter", "random_patch")

ModelName = Literal["osnet_x1_0", "osnet_x0_75", "osnet_x0_5", "osnet_x0_25", "osnet_ibn_x1_0",
                    "osnet_ain_x1_0", "osnet_ain_x0_75", "osnet_ain_x0_5", "osnet_ain_x0_25"]
Transform = Literal["random_flip", "random_crop", "random_erase", "color_jitter", "random_patch"]
MAX_EXTRA_DATASETS = 16
DatasetId = Annotated[int, Field(ge=1, le=2**31 - 1)]
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
    optimizer: Literal["adam", "amsgrad", "sgd", "rmsprop", "radam", "adamw"] = Field(
        "adam", description="optimizer (adamw: torch.optim.AdamW, which torchreid 0.2.5 lacks)")
    lr: float = Field(0.0003, gt=0, le=10, description="learning rate")
    weight_decay: float = Field(0.0005, ge=0, le=1, description="weight decay (L2)")
    momentum: float = Field(0.9, ge=0, lt=1, description="SGD / RMSprop momentum")
    scheduler: Literal["single_step", "multi_step", "cosine"] = Field("single_step", description="learning-rate schedule")
    stepsize: int = Field(20, ge=1, le=10000, description="single_step: epochs between decays")
    milestones: list[int] = Field([30, 50], min_length=1, description="multi_step: epochs at which lr decays")
    gamma: float = Field(0.1, gt=0, le=1, description="decay factor of single_step / multi_step")
    eta_min: float = Field(0.0, ge=0, le=10, description="cosine: the lowest learning rate (torch's eta_min)")
    restart_epoch: int = Field(0, ge=0, le=10000, description="cosine: restart the schedule every N epochs "
                                                              "(warm restarts; 0: one cosine over all epochs)")
    amp: bool = Field(False, description="mixed precision (torch.autocast + GradScaler, CUDA only; torchreid "
                                         "0.2.5 has none of its own; ignored on the CPU)")
    epochs: int = Field(60, ge=1, le=10000, description="epochs to train")
    patience: int = Field(0, ge=0, le=10000, description="early stopping: evaluations without early_stop_metric "
                                                         "improving before training stops (0: off)")
    early_stop_metric: Literal["rank1", "mAP"] = Field("rank1", description="early stopping: the val metric watched")
    min_delta: float = Field(0.0, ge=0, le=1, description="early stopping: the least gain that counts as improving")
    batch_size: int = Field(32, ge=2, le=4096, description="training images per batch")
    test_batch_size: int = Field(100, ge=1, le=4096, description="images per batch when extracting features")
    sampler: Literal["auto", "RandomSampler", "RandomIdentitySampler"] = Field(
        "auto", description="training sampler; auto = RandomIdentitySampler for triplet, RandomSampler for softmax")
    num_instances: int = Field(4, ge=1, le=64, description="RandomIdentitySampler: images of each identity per batch")
    # data
    height: int = Field(256, ge=16, le=1024, description="input height in pixels")
    width: int = Field(128, ge=8, le=1024, description="input width in pixels")
    transforms: list[Transform] = Field(["random_flip"], description="training augmentations (torchreid names)")
    k_tfm: int = Field(1, ge=1, le=8, description="augmented versions of each training image per batch "
                                                  "(torchreid's k_tfm)")
    extra_datasets: list[DatasetId] = Field([], max_length=MAX_EXTRA_DATASETS,
                                      description="ids of more market1501 datasets whose train identities join "
                                                  "this run's (kept apart per dataset, combineall-style); "
                                                  "evaluation stays on the chosen dataset")
    # evaluation
    eval_freq: int = Field(5, ge=1, le=10000, description="evaluate query vs gallery every N epochs (and at the end)")
    select_model: Literal["best", "last"] = Field("best", description="the model a run registers: best = the epoch "
                                                                      "with the best val rank-1, last = the final one")
    dist_metric: Literal["euclidean", "cosine"] = Field("euclidean", description="feature distance for ranking")
    normalize_feature: bool = Field(False, description="L2-normalise features before computing distances")
    rerank: bool = Field(False, description="k-reciprocal re-ranking of the distances (torchreid's re_ranking)")
    use_metric_cuhk03: bool = Field(False, description="CUHK03 single-gallery-shot CMC (torchreid's "
                                                       "use_metric_cuhk03)")
    visrank: bool = Field(False, description="save ranked-list images (torchreid's visualize_ranked_results) at "
                                             "each evaluation, under visrank/ in the run's files")
    visrank_topk: int = Field(10, ge=1, le=50, description="visrank: gallery images shown per query")
    visrank_queries: int = Field(20, ge=1, le=1000, description="visrank: queries drawn (the first N by file name, "
                                                                "the same at every evaluation)")
    # launch gate
    min_identities: int = Field(10, ge=0, le=100000, description="launch gate: fewest train identities (0: off)")
    min_images_per_identity: int = Field(2, ge=0, le=1000, description="launch gate: fewest images per train identity (0: off)")
    # machine
    workers: int = Field(4, ge=0, le=64, description="dataloader worker processes (0: load in the training process)")
    cpu_threads: int = Field(0, ge=0, le=256, description="torch CPU threads (0: torch's default)")
    device: DeviceStr = device_field(description=DEVICE_HELP + "; several GPUs train with torch DataParallel")
    gpus: int | None = gpus_field()
    seed: int = Field(1, ge=0, le=2**31 - 1, description="random seed (initialisation, sampling, augmentation)")
    data_fraction: float = Field(1.0, gt=0, le=1, description="share of the training split to train on, stratified by identity "
                                   "(same seed, same subset; val and test unchanged)")

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
        if len(set(self.extra_datasets)) != len(self.extra_datasets):
            raise ValueError("extra_datasets: each dataset id once")
        if list(self.milestones) != sorted(set(self.milestones)):
            raise ValueError("milestones must be increasing epoch numbers without repeats")
        return self

    def combined_dataset(self, primary: DatasetRef, extras: tuple[DatasetRef, ...]) -> DatasetRef:
        """What the launch gate counts when ``extra_datasets`` join: the chosen dataset's samples
        and the extras' train samples, their identities kept apart as ``NAME/PPPP``."""
        import dataclasses

        if not extras:
            return primary
        samples = list(primary.samples)
        for ref in extras:
            samples += [dataclasses.replace(s, label=f"{ref.name}/{s.label}") for s in ref.samples if s.split == "train"]
        return dataclasses.replace(primary, name=" + ".join([primary.name, *(r.name for r in extras)]),
                                   samples=tuple(samples))

    def review(self, dataset: DatasetRef | None) -> dict:
        """What the Launch page's review shows before Start: datasets, images per split and the
        train identities (extra datasets' kept apart)."""
        if dataset is None:
            return {}
        splits: dict[str, int] = {}
        train_ids = set()
        for s in dataset.samples:
            if "junk" in (s.flags or ()):
                continue
            splits[s.split] = splits.get(s.split, 0) + 1
            if s.split == "train" and not s.flags:
                train_ids.add(s.label)
        return {"datasets": dataset.name, "train identities": len(train_ids), "input": f"{self.height}x{self.width}",
                "splits": {k: splits[k] for k in ("train", "query", "gallery") if k in splits}}


def uses_identity_sampler(config: ReidConfig) -> bool:
    """Whether batches are drawn as ``batch_size / num_instances`` identities x ``num_instances`` images."""
    if config.sampler == "auto":
        return config.loss == "triplet"
    return config.sampler == "RandomIdentitySampler"
