"""The ``anomaly`` family's config: one autoencoder for one age group over ViT embeddings.

Light on purpose (pydantic only): pages validate forms with it. ``configs/anomaly.yaml`` holds
the same defaults with a comment per key.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from engine.configs import INIT_VERSION_HELP
from engine.core import FamilyConfig
from engine.devices import AMP_HELP, DeviceStr, check_device_fields, device_field, gpus_field
from engine.trust import models_dir, user_weights

__all__ = ["AnomalyConfig", "AgeRange", "parse_age_range", "parse_age_groups", "AGE_MIN", "AGE_MAX",
           "PRODUCTION_BACKBONE", "TINY_BACKBONE", "scope_for_age", "backbone_source"]

AGE_MIN, AGE_MAX = 2.0, 18.0  # ages accepted at import
PRODUCTION_BACKBONE = "google/vit-base-patch16-224-in21k"
TINY_BACKBONE = "tiny-vit"  # built locally from a ViTConfig: offline demo and tests

# Bounds that keep every accepted config trainable: widths a CPU can still build, seeds numpy and
# torch both take, epoch counts a schedule can hold.
MAX_WIDTH = 8192
MAX_LAYERS = 8
MAX_EPOCHS = 100_000
MAX_SEED = 2**32 - 1
Width = Annotated[int, Field(ge=1, le=MAX_WIDTH)]
Beta = Annotated[float, Field(ge=0, lt=1)]

_RANGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)\s*$")


class AgeRange(tuple):
    """``(lo, hi)`` in years; a sample belongs when ``lo <= age < hi`` (the top group of the
    accepted range, ending at 18, also holds age 18)."""

    def __new__(cls, lo: float, hi: float) -> "AgeRange":
        return super().__new__(cls, (float(lo), float(hi)))

    @property
    def lo(self) -> float:
        return self[0]

    @property
    def hi(self) -> float:
        return self[1]

    def contains(self, age: float) -> bool:
        return self.lo <= age < self.hi or (self.hi >= AGE_MAX and age == self.hi)

    @property
    def label(self) -> str:
        def fmt(x: float) -> str:
            return f"{x:g}"
        return f"{fmt(self.lo)}-{fmt(self.hi)}"


def parse_age_range(text: str) -> AgeRange:
    """``"3-6"`` → ``AgeRange(3.0, 6.0)``; raises ``ValueError`` naming the problem."""
    m = _RANGE.match(str(text))
    if not m:
        raise ValueError(f"age group {text!r} is not of the form LO-HI (e.g. 3-6)")
    lo, hi = float(m.group(1)), float(m.group(2))
    if not lo < hi:
        raise ValueError(f"age group {text!r}: the lower age must be below the upper")
    if lo < AGE_MIN or hi > AGE_MAX:
        raise ValueError(f"age group {text!r} lies outside the accepted ages {AGE_MIN:g}-{AGE_MAX:g}")
    return AgeRange(lo, hi)


def parse_age_groups(text: str) -> list[AgeRange]:
    """``"3-6, 6-9,9-12"`` → three ranges; overlapping groups are refused."""
    groups = [parse_age_range(part) for part in str(text).split(",") if part.strip()]
    if not groups:
        raise ValueError("give at least one age group, e.g. 3-6,6-9,9-12")
    ordered = sorted(groups)
    for a, b in zip(ordered, ordered[1:]):
        if b.lo < a.hi:
            raise ValueError(f"age groups {a.label} and {b.label} overlap")
    return groups


HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def backbone_source(name: str, *, must_exist: bool = True) -> str:
    """Where ``name`` loads from: ``tiny-vit`` as is (Trainyard builds it), a folder in the models
    folder (resolved), or a hub id such as ``google/vit-base-patch16-224-in21k`` (loaded as
    safetensors only, so nothing is unpickled). Any other path is refused (engine.trust)."""
    if name == TINY_BACKBONE:
        return name
    local = models_dir() / name
    if HUB_ID.match(name) and not local.exists():
        return name
    return str(user_weights(name, what="ViT backbone folder", must_exist=must_exist))


class AnomalyConfig(FamilyConfig):
    # data
    age_group: str = Field("3-6", description="age range LO-HI in years this model covers (lo <= age < hi)")
    min_samples: int = Field(10, ge=1, le=1_000_000, description="fewest normal drawings in the group to train (50 recommended)")
    backbone: str = Field(TINY_BACKBONE, min_length=1, max_length=512,
                          description=f"ViT for embeddings: hub name (safetensors only) or a folder in the models "
                          f"folder; production choice {PRODUCTION_BACKBONE}; 'tiny-vit' = small local ViT (offline demo)")

    @field_validator("backbone")
    @classmethod
    def _backbone_trusted(cls, value: str) -> str:
        backbone_source(value, must_exist=False)  # a local folder only inside the models folder
        return value

    embed_batch_size: int = Field(32, ge=1, le=4096, description="images per batch when computing embeddings")
    num_workers: int = Field(0, ge=0, le=64, description="processes decoding drawings for the embeddings (0: in the run's process)")
    pin_memory: bool = Field(False, description="pin embedding batches in memory for a faster CUDA copy (CUDA only)")
    cpu_threads: int = Field(1, ge=1, le=256, description="torch CPU threads while training on the CPU (a small "
                             "autoencoder is fastest on one)")
    train_split: float = Field(0.7, gt=0, lt=1, description="fraction of normal drawings to train on")
    val_split: float = Field(0.2, gt=0, lt=1, description="fraction for validation (threshold, early stopping)")
    test_split: float = Field(0.1, ge=0, lt=1, description="fraction held out for the final test")
    stratify_by_age: bool = Field(True, description="split each age stratum (age_group_size years) in the same proportions")
    age_group_size: float = Field(1.0, ge=0.1, le=16.0, description="width in years of the age strata the split "
                                  "keeps in proportion (0.5: half-year strata)")
    standardize: bool = Field(True, description="scale features to zero mean, unit variance (train statistics)")
    # model
    hidden_dims: list[Width] = Field([256, 128], min_length=1, max_length=MAX_LAYERS, description="encoder layer widths (decoder mirrors)")
    latent_dim: int = Field(32, ge=1, le=MAX_WIDTH, description="bottleneck width")
    dropout: float = Field(0.1, ge=0, lt=1, description="dropout after each hidden layer")
    batch_norm: bool = Field(True, description="batch normalisation after each hidden layer")
    activation: Literal["relu", "leaky_relu", "gelu", "elu", "tanh"] = Field("relu", description="hidden activation")
    # optimisation
    optimizer: Literal["adam", "adamw", "sgd"] = Field("adam", description="optimizer")
    lr: float = Field(1e-3, gt=0, le=10, description="learning rate")
    weight_decay: float = Field(1e-5, ge=0, le=1, description="weight decay")
    betas: tuple[Beta, Beta] = Field((0.9, 0.999), description="Adam/AdamW betas")
    momentum: float = Field(0.9, ge=0, lt=1, description="SGD momentum")
    scheduler: Literal["none", "step", "cosine", "plateau"] = Field("none", description="learning-rate schedule")
    T_max: int = Field(0, ge=0, le=MAX_EPOCHS, description="cosine scheduler: epochs from the start to the lowest "
                       "learning rate (0: epochs)")
    step_size: int = Field(30, ge=1, le=MAX_EPOCHS, description="step scheduler: epochs between decays")
    gamma: float = Field(0.5, gt=0, lt=1, description="step/plateau scheduler: decay factor")
    plateau_patience: int = Field(5, ge=0, le=MAX_EPOCHS, description="plateau scheduler: epochs without improvement before decay")
    epochs: int = Field(100, ge=1, le=MAX_EPOCHS, description="maximum epochs")
    batch_size: int = Field(32, ge=1, le=65_536, description="training batch size")
    patience: int = Field(15, ge=0, le=MAX_EPOCHS, description="early stopping: epochs without val improvement (0: off)")
    min_delta: float = Field(1e-5, ge=0, le=1e3, description="early stopping: smallest val loss decrease that counts")
    select_model: Literal["best", "last"] = Field("best", description="the model the run registers: the epoch with "
                                                  "the lowest val loss ('best') or the final one ('last')")
    grad_clip: float = Field(1.0, ge=0, le=1e6, description="clip gradient norm to this (0: off)")
    amp: bool = Field(True, description=AMP_HELP + ": float16 autocast with a gradient scaler (was mixed_precision)")
    device: DeviceStr = device_field()
    gpus: int | None = gpus_field()
    validation_frequency: int = Field(1, ge=1, le=MAX_EPOCHS, description="epochs between validations (early "
                                      "stopping and the best epoch count validations; the last epoch always validates)")
    checkpoint_frequency: int = Field(0, ge=0, le=MAX_EPOCHS, description="epochs between last.pt writes (0: at "
                                      "most every 10 s; best.pt is written when a validation improves)")
    log_frequency: int = Field(1, ge=1, le=MAX_EPOCHS, description="epochs between train-loss log rows")
    save_plots: bool = Field(True, description="draw plot files (error histogram and ROC, training curves); "
                             "off: none is drawn (errors.json is still written)")
    plot_frequency: int = Field(0, ge=0, le=MAX_EPOCHS, description="epochs between redraws of the training-curve "
                                "plot, also drawn at the end (0: no training-curve plot); needs save_plots")
    threshold_percentile: float = Field(95.0, gt=0, lt=100,
                                        description="threshold = this percentile of val reconstruction error")
    seed: int = Field(42, ge=0, le=MAX_SEED, description="random seed (split and initialisation)")
    data_fraction: float = Field(1.0, gt=0, le=1, description="share of the training split to train on, stratified by whole year of age "
                                   "(same seed, same subset; val and test unchanged)")
    init_version: int | None = Field(None, ge=1, description=INIT_VERSION_HELP + "; another age group or dataset "
                                                             "with the same embedding width and layer sizes")

    @field_validator("age_group")
    @classmethod
    def _age_group(cls, value: str) -> str:
        return parse_age_range(value).label

    @model_validator(mode="before")
    @classmethod
    def _old_keys(cls, data):
        from engine.configs import deprecated_alias

        return deprecated_alias(data, old="mixed_precision", new="amp", family="anomaly")

    @model_validator(mode="after")
    def _splits(self) -> "AnomalyConfig":
        check_device_fields(self)
        total = self.train_split + self.val_split + self.test_split
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"train_split + val_split + test_split must be 1 (got {total:g})")
        return self

    @property
    def age_range(self) -> AgeRange:
        return parse_age_range(self.age_group)

    @classmethod
    def expand(cls, data: dict, dataset=None) -> list[dict]:
        """``age_groups`` in place of ``age_group`` launches one run per group: a list such as
        ``["3-6", "6-9"]``, a comma string ``"3-6,6-9"``, or ``auto`` (groups from the dataset's
        age distribution, as on the Data Sufficiency page)."""
        from engine.configs import ConfigError, FieldError

        if not isinstance(data, dict) or "age_groups" not in data:
            return [data]
        rest = {k: v for k, v in data.items() if k != "age_groups"}
        groups = data["age_groups"]
        try:
            if "age_group" in rest:
                raise ValueError("give age_group or age_groups, not both")
            if groups == "auto":
                if dataset is None:
                    raise ValueError("auto needs a dataset to read the ages from")
                ranges = auto_age_groups([s.group_value for s in dataset.samples], RECOMMENDED_SAMPLES)
                if not ranges:
                    raise ValueError(f"auto: dataset {dataset.name!r} has no ages to group")
            else:
                ranges = parse_age_groups(",".join(map(str, groups)) if isinstance(groups, list) else str(groups))
        except ValueError as exc:
            raise ConfigError("anomaly", [FieldError("age_groups", str(exc))]) from None
        return [{**rest, "age_group": g.label} for g in ranges]

    def run_label(self) -> str:
        return self.age_group  # also the scope of the model the run registers


RECOMMENDED_SAMPLES = 50  # normal drawings per age group the seed system recommends


def auto_age_groups(ages: Sequence[float], target: int = RECOMMENDED_SAMPLES, min_width: int = 1) -> list[AgeRange]:
    """Age groups from the distribution: whole-year bins from the youngest to the oldest age,
    merged left to right until each holds ``target`` drawings; a short tail joins the last group."""
    ages = [float(a) for a in ages if a is not None]
    if not ages:
        return []
    lo, hi = math.floor(min(ages)), min(math.floor(max(ages)) + 1, int(AGE_MAX))
    counts = Counter(min(math.floor(a), hi - 1) for a in ages)
    groups: list[list[int]] = []  # [start, end, count]
    start, n = lo, 0
    for year in range(lo, hi):
        n += counts.get(year, 0)
        if n >= target and year + 1 - start >= min_width:
            groups.append([start, year + 1, n])
            start, n = year + 1, 0
    if start < hi:
        if groups and n < target:
            groups[-1][1], groups[-1][2] = hi, groups[-1][2] + n
        else:
            groups.append([start, hi, n])
    return [AgeRange(a, b) for a, b, _ in groups]


def scope_for_age(scopes: list[str], age: float) -> str | None:
    """The age-group scope (e.g. ``"3-6"``) that holds ``age``; the narrowest wins when several do."""
    holding = []
    for scope in scopes:
        try:
            rng = parse_age_range(scope)
        except ValueError:
            continue
        if rng.contains(age):
            holding.append((rng.hi - rng.lo, scope))
    return min(holding)[1] if holding else None
