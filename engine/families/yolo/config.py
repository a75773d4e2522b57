"""The ``yolo`` family's config: Ultralytics' training arguments, validated without importing it.

Defaults are Ultralytics' own ``cfg/default.yaml`` where the seed systems agree with it, and the
seed wizard's otherwise (epochs 100, batch 16, lr0 0.01, seed 42, train ratio 0.8; image size
224 for classify and 640 for detect/segment when ``imgsz`` is left empty); ``configs/yolo.yaml``
carries the same values with a comment per key.

Several datasets of one task train as one (``extra_datasets``): classes are matched by name,
``classes`` keeps a subset and ``class_map`` renames (two old names onto one new name merge).
``combine_problems`` refuses a combination that cannot be matched; ``combined_classes`` is the
one place that decides the final class list and every source id's new id.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from engine.configs import INIT_VERSION_HELP
from engine.core import DatasetRef, FamilyConfig
from engine.devices import AMP_HELP, DEVICE_HELP, DeviceStr, check_device_fields, device_field, gpus_field
from engine.trust import models_dir, user_weights

TASKS = ("classify", "detect", "segment")
VARIANTS = ("n", "s", "m", "l", "x")
ARCHS = ("yolo11", "yolov8", "yolo26")
MAX_EPOCHS = 100_000
MAX_SEED = 2**32 - 1  # numpy's seed range (Ultralytics seeds numpy, torch and random with it)
_TASK_SUFFIX = {"detect": "", "segment": "-seg", "classify": "-cls"}
DEFAULT_IMGSZ = {"classify": 224, "detect": 640, "segment": 640}  # the seed wizard's (and Ultralytics' usual) sizes
MAX_EXTRA_DATASETS = 16
MAX_CLASS_NAME = 200
DatasetId = Annotated[int, Field(ge=1, le=2**31 - 1)]
ClassName = Annotated[str, Field(min_length=1, max_length=MAX_CLASS_NAME)]

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
    imgsz: int | None = Field(None, ge=32, le=8192, description="train and val image size (pixels, square); "
                                                                 "empty: 224 for classify, 640 for detect/segment")
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
    seed: int = Field(42, ge=0, le=MAX_SEED, description="random seed (training and the train/val split)")
    data_fraction: float = Field(1.0, gt=0, le=1, description="share of the training split to train on, stratified by class "
                                   "(same seed, same subset; val and test unchanged)")
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
    extra_datasets: list[DatasetId] = Field([], max_length=MAX_EXTRA_DATASETS,
                                            description="ids of more yolo datasets of the same task trained together "
                                                        "with the chosen one (classes matched by name)")
    classes: list[ClassName] = Field([], max_length=10_000, description="class names to train on (after class_map); "
                                                                        "empty: all. Labels of other classes are dropped")
    class_map: dict[ClassName, ClassName] = Field({}, max_length=10_000,
                                                  description="rename classes, old: new (two old names onto one new "
                                                              "name merge them)")
    min_per_class: int = Field(100, ge=0, le=1_000_000, description="launch gate: fewest training images per class (0: off)")

    @model_validator(mode="after")
    def _classes_consistent(self) -> "YoloConfig":
        if len(set(self.extra_datasets)) != len(self.extra_datasets):
            raise ValueError("extra_datasets: each dataset id once")
        if len(set(self.classes)) != len(self.classes):
            raise ValueError("classes: each class name once")
        return self

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

    def image_size(self) -> int:
        """``imgsz``, or the task's usual size when it is left empty."""
        return self.imgsz if self.imgsz is not None else DEFAULT_IMGSZ[self.task]

    def train_args(self) -> dict[str, Any]:
        """Arguments for Ultralytics' ``model.train`` (data, device and paths are added by the trainer)."""
        return {k: getattr(self, k) for k in TRAIN_ARGS} | {"imgsz": self.image_size()}

    # ---- several datasets, a subset of classes, renamed classes ----
    def combined_classes(self, names_per_source: Sequence[Sequence[str]]) -> tuple[list[str], list[dict[int, int]]]:
        """The final class names and, per source, its class id → final id (ids not in the map are
        dropped): names renamed by ``class_map``, matched by name across sources in the order
        they first appear, then kept to ``classes`` (in that order) when it is given."""
        final: list[str] = []
        for names in names_per_source:
            for name in names:
                new = self.class_map.get(name, name)
                if new not in final:
                    final.append(new)
        if self.classes:
            final = [c for c in self.classes if c in final]
        index = {name: i for i, name in enumerate(final)}
        maps = [{i: index[self.class_map.get(n, n)] for i, n in enumerate(names) if self.class_map.get(n, n) in index}
                for names in names_per_source]
        return final, maps

    def combine_problems(self, primary: DatasetRef, extras: Sequence[DatasetRef] = ()) -> list[str]:
        """Why these datasets cannot train together as this config asks (empty: they can): another
        task, names only inferred from class ids, names that differ only in case or spaces (the
        same class spelled twice: map one onto the other), ``classes``/``class_map`` naming a class
        no dataset has, or nothing left to train."""
        refs = [primary, *extras]
        problems: list[str] = []
        for ref in refs if extras else ():  # one dataset of another task: the gate says so (TaskMismatch)
            task = (ref.summary or {}).get("task")
            if self.task not in compatible_tasks(task):
                problems.append(f"dataset {ref.name!r} holds {task or 'no usable'} data; it cannot train task "
                                f"{self.task!r} with the others")
        names_per_source = [list((ref.summary or {}).get("names") or []) for ref in refs]
        if extras:
            for ref in refs:
                if (ref.summary or {}).get("names_inferred"):
                    problems.append(f"dataset {ref.name!r} has no class names (data.yaml gives none); classes are "
                                    "matched by name, so name them before combining")
            for ref, names in zip(refs, names_per_source):
                dupes = sorted({n for n in names if names.count(n) > 1})
                if dupes:
                    problems.append(f"dataset {ref.name!r} names {', '.join(map(repr, dupes))} more than once")
            renamed: dict[str, tuple[str, str]] = {}
            for ref, names in zip(refs, names_per_source):
                for name in names:
                    new = self.class_map.get(name, name)
                    key = " ".join(new.split()).casefold()
                    if key in renamed and renamed[key][0] != new:
                        other, where = renamed[key]
                        problems.append(f"class {new!r} of dataset {ref.name!r} and {other!r} of dataset {where!r} "
                                        f"differ only in case or spaces; map one onto the other in class_map "
                                        f"({new!r}: {other!r}) or rename it")
                    renamed.setdefault(key, (new, ref.name))
        known = {n for names in names_per_source for n in names}
        unknown = sorted(set(self.class_map) - known)
        if unknown:
            problems.append(f"class_map renames {', '.join(map(repr, unknown))}, which no dataset has "
                            f"(classes: {', '.join(sorted(known)) or 'none'})")
        final_all = {self.class_map.get(n, n) for n in known}
        missing = [c for c in self.classes if c not in final_all]
        if missing:
            problems.append(f"classes lists {', '.join(map(repr, missing))}, which no dataset has after class_map "
                            f"(classes: {', '.join(sorted(final_all)) or 'none'})")
        if not problems and not self.combined_classes(names_per_source)[0]:
            problems.append("no class is left to train")
        return problems

    def combined_dataset(self, primary: DatasetRef, extras: Sequence[DatasetRef] = ()) -> DatasetRef:
        """What the launch gate and the review count: every source's samples with their classes
        renamed and kept as this config says (an image whose classes are all dropped counts as
        background)."""
        import dataclasses

        if not (extras or self.classes or self.class_map):
            return primary
        refs = [primary, *extras]
        names, _ = self.combined_classes([list((r.summary or {}).get("names") or []) for r in refs])
        keep = set(names)
        samples = []
        for ref in refs:
            for s in ref.samples:
                counts: dict[str, int] = {}
                for name, n in dict((s.meta or {}).get("instances") or {}).items():
                    new = self.class_map.get(name, name)
                    if new in keep:
                        counts[new] = counts.get(new, 0) + int(n)
                label = max(counts, key=counts.get) if counts else None
                samples.append(dataclasses.replace(s, label=label, meta={**dict(s.meta or {}), "instances": counts,
                                                                         "source": ref.name}))
        summary = {**dict(primary.summary or {}), "names": names, "nc": len(names)}
        return dataclasses.replace(primary, name=" + ".join(r.name for r in refs), samples=tuple(samples),
                                   summary=summary)

    def review(self, dataset: DatasetRef | None) -> dict[str, Any]:
        """What the Launch page's review shows before Start: datasets, split sizes (val drawn from
        train by ``train_ratio`` when there is none), final classes and image size."""
        if dataset is None:
            return {}
        per_source: dict[str, dict[str, int]] = {}  # a source without val gets one drawn from its train images
        for s in dataset.samples:
            counts = per_source.setdefault(str((s.meta or {}).get("source", "")), {})
            counts[s.split or "train"] = counts.get(s.split or "train", 0) + 1
        splits: dict[str, int] = {}
        for counts in per_source.values():
            if not counts.get("val") and counts.get("train", 0) > 1:
                n = counts["train"]
                train = min(max(1, round(n * self.train_ratio)), n - 1)
                counts.update(train=train, val=n - train)
            for k, v in counts.items():
                splits[k] = splits.get(k, 0) + v
        names = list((dataset.summary or {}).get("names") or [])
        return {"datasets": dataset.name, "task": self.task, "image size": self.image_size(),
                "splits": {k: splits[k] for k in ("train", "val", "test") if k in splits},
                "classes": f"{len(names)}: {', '.join(names)}"}
