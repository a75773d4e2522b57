"""The ``yolo`` family's config: Ultralytics' training arguments, validated without importing it.

Defaults equal Ultralytics' own ``cfg/default.yaml`` so a run launched with an untouched form
trains the way ``yolo train`` would; ``configs/yolo.yaml`` carries the same values with a
comment per key.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from engine.configs import INIT_VERSION_HELP
from engine.core import FamilyConfig
from engine.devices import AMP_HELP, DEVICE_HELP, DeviceStr, check_device_fields, device_field, gpus_field
from engine.trust import models_dir, user_weights

TASKS = ("classify", "detect", "segment")
VARIANTS = ("n", "s", "m", "l", "x")
ARCHS = ("yolo11", "yolov8", "yolo26")
MAX_EPOCHS = 100_000
MAX_SEED = 2**32 - 1  # numpy's seed range (Ultralytics seeds numpy, torch and random with it)
_TASK_SUFFIX = {"detect": "", "segment": "-seg", "classify": "-cls"}

# Keys handed to Ultralytics' ``model.train`` unchanged; the rest are Trainyard's own.
TRAIN_ARGS = (
    "epochs", "batch", "imgsz", "lr0", "lrf", "momentum", "weight_decay", "warmup_epochs", "warmup_momentum",
    "warmup_bias_lr", "optimizer", "cos_lr", "patience", "save_period", "cache", "workers", "seed",
    "deterministic", "close_mosaic", "dropout", "box", "cls", "dfl", "hsv_h", "hsv_s", "hsv_v", "degrees",
    "translate", "scale", "shear", "perspective", "flipud", "fliplr", "mosaic", "mixup", "copy_paste",
)


MODEL_SUFFIXES = (".pt", ".yaml", ".yml")


def _builtin_yaml(name: str) -> bool:
    """A bare architecture name such as ``yolov8n.yaml`` that is not a file in the models folder:
    Ultralytics builds it from the yaml shipped inside its own package."""
    if not name.endswith((".yaml", ".yml")) or "/" in name or "\\" in name:
        return False
    return not (models_dir() / name).exists()


def compatible_tasks(dataset_task: str | None) -> tuple[str, ...]:
    """Tasks a dataset can train: polygons also give boxes, so segment data trains detect too."""
    return {"segment": ("segment", "detect"), "detect": ("detect",), "classify": ("classify",)}.get(dataset_task or "", ())


class YoloConfig(FamilyConfig):
    task: Literal["classify", "detect", "segment"] = Field("detect", description="what the model predicts")
    variant: Literal["n", "s", "m", "l", "x"] = Field("n", description="model scale: nano to extra large")
    arch: Literal["yolo11", "yolov8", "yolo26"] = Field("yolo11", description="architecture whose model yaml is built")
    model: str | None = Field(None, max_length=512,
                              description="a .pt or model .yaml in the models folder (TRAINYARD_MODELS_DIR) to start "
                                          "from instead of arch+variant; a bare *.yaml name not found there is one of "
                                          "Ultralytics' built-in architectures")
    init_version: int | None = Field(None, ge=1, description=INIT_VERSION_HELP + "; detect and segment versions "
                                                             "start either task, a new class count gets a new head")
    epochs: int = Field(100, ge=1, le=MAX_EPOCHS, description="number of epochs to train for")
    batch: int = Field(16, ge=1, le=1024, description="images per batch")
    imgsz: int = Field(640, ge=32, le=8192, description="train and val image size (pixels, square)")
    lr0: float = Field(0.01, gt=0, le=1, description="initial learning rate")
    lrf: float = Field(0.01, gt=0, le=1, description="final learning rate as a fraction of lr0")
    momentum: float = Field(0.937, ge=0, lt=1, description="SGD momentum / Adam beta1")
    weight_decay: float = Field(0.0005, ge=0, le=1, description="optimizer weight decay")
    warmup_epochs: float = Field(3.0, ge=0, le=MAX_EPOCHS, description="warmup epochs (fractions allowed)")
    warmup_momentum: float = Field(0.8, ge=0, lt=1, description="initial momentum during warmup")
    warmup_bias_lr: float = Field(0.1, ge=0, le=1, description="bias learning rate during warmup")
    optimizer: Literal["auto", "SGD", "MuSGD", "Adam", "Adamax", "AdamW", "NAdam", "RAdam", "RMSProp"] = Field(
        "auto", description="optimizer; auto picks one by dataset size and then ignores lr0 and momentum")
    cos_lr: bool = Field(False, description="cosine learning-rate schedule")
    patience: int = Field(100, ge=0, le=MAX_EPOCHS, description="stop after this many epochs without val improvement")
    save_period: int = Field(-1, ge=-1, le=MAX_EPOCHS, description="also save a checkpoint every N epochs (<1: off)")
    cache: bool | Literal["ram", "disk"] = Field(False, description="cache images in RAM or on disk")
    workers: int = Field(8, ge=0, le=64, description="dataloader worker processes")
    device: DeviceStr = device_field(description=DEVICE_HELP + "; several GPUs train with Ultralytics' DDP")
    gpus: int | None = gpus_field()
    amp: bool = Field(True, description=AMP_HELP + " (Ultralytics checks it first and turns it off if it fails)")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="random seed (training and the train/val split)")
    deterministic: bool = Field(True, description="deterministic ops; reproducible but slower")
    close_mosaic: int = Field(10, ge=0, le=MAX_EPOCHS, description="turn mosaic off for the final N epochs")
    dropout: float = Field(0.0, ge=0, lt=1, description="classification head dropout (classify only)")
    box: float = Field(7.5, ge=0, le=100, description="box loss gain")
    cls: float = Field(0.5, ge=0, le=100, description="classification loss gain")
    dfl: float = Field(1.5, ge=0, le=100, description="distribution focal loss gain")
    hsv_h: float = Field(0.015, ge=0, le=1, description="HSV hue augmentation (fraction)")
    hsv_s: float = Field(0.7, ge=0, le=1, description="HSV saturation augmentation (fraction)")
    hsv_v: float = Field(0.4, ge=0, le=1, description="HSV value augmentation (fraction)")
    degrees: float = Field(0.0, ge=0, le=180, description="rotation (+/- degrees)")
    translate: float = Field(0.1, ge=0, le=1, description="translation (+/- fraction)")
    scale: float = Field(0.5, ge=0, le=1, description="scale gain (+/-)")
    shear: float = Field(0.0, ge=0, le=180, description="shear (+/- degrees)")
    perspective: float = Field(0.0, ge=0, le=0.001, description="perspective (+/- fraction)")
    flipud: float = Field(0.0, ge=0, le=1, description="vertical flip probability")
    fliplr: float = Field(0.5, ge=0, le=1, description="horizontal flip probability")
    mosaic: float = Field(1.0, ge=0, le=1, description="mosaic probability")
    mixup: float = Field(0.0, ge=0, le=1, description="mixup probability")
    copy_paste: float = Field(0.0, ge=0, le=1, description="segment copy-paste probability (segment only)")
    select_model: Literal["best", "last"] = Field("best", description="the weights a run registers: best.pt (best "
                                                                      "val fitness) or last.pt (the final epoch)")
    train_ratio: float = Field(0.8, gt=0, lt=1, description="train share when the dataset has no val split")
    min_per_class: int = Field(100, ge=0, le=1_000_000, description="launch gate: fewest training images per class (0: off)")

    @field_validator("model")
    @classmethod
    def _model_in_models_folder(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not value.endswith(MODEL_SUFFIXES):
            raise ValueError(f"must name a {' or '.join(MODEL_SUFFIXES)} file")
        if not _builtin_yaml(value):
            user_weights(value, what="yolo model", must_exist=False)  # refuses anything outside the folder
        return value

    @model_validator(mode="after")
    def _devices(self):
        check_device_fields(self)
        return self

    def model_source(self) -> str:
        """The model file Ultralytics builds from: the user's file (resolved inside the models
        folder, refused elsewhere), a built-in architecture yaml, or the arch/variant/task yaml."""
        if self.model:
            if _builtin_yaml(self.model):
                return self.model
            return str(user_weights(self.model, what="yolo model"))
        return f"{self.arch}{self.variant}{_TASK_SUFFIX[self.task]}.yaml"

    def train_args(self) -> dict[str, Any]:
        """Arguments for Ultralytics' ``model.train`` (data, device and paths are added by the trainer)."""
        return {k: getattr(self, k) for k in TRAIN_ARGS}
