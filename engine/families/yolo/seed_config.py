"""How the YOLO seed systems' training settings read as a ``yolo`` config (``python -m engine
config import yolo FILE``): seed 002's person-detection trainer (``YOLOSettings``' ``YOLO_*``
values, ``trainer.train(data_config=, batch_size=, image_size=, project=, name=, ...)``) and
seed 003's training wizard (``task_type``, model variant, epochs, batch size, image size, initial
learning rate, train ratio, random seed, device; sent as a job's ``config:``).

Ultralytics' own arguments (``lr0``, ``patience``, ``hsv_h``, ``mosaic`` ...) already carry
Trainyard's names and map as they are; only the seeds' wrapper names are renamed here."""
from __future__ import annotations

import re
from typing import Any

from engine.config_import import Rename, SeedMapping

__all__ = ["SEED_CONFIG"]

_VARIANT = re.compile(r"^(?:yolo(?:v8|v11|11|26)?)?([nsmlx])(?:-(?:cls|seg))?(?:\.(?:pt|ya?ml))?$")


def _variant(value: Any) -> str:
    """``s`` / ``yolov8s`` / ``yolo11s-seg.pt`` → ``s`` (the wizard's model choice is a variant)."""
    m = _VARIANT.match(str(value).strip().lower())
    if m is None:
        raise ValueError("expected a YOLO variant: n, s, m, l, x (or a name such as yolov8s)")
    return m.group(1)


def _imgsz(value: Any) -> int:
    """``640`` or ``[640, 640]`` → ``640``; Trainyard trains square images."""
    if isinstance(value, (list, tuple)):
        if len(value) != 2 or value[0] != value[1]:
            raise ValueError("Trainyard trains square images: one size, or [N, N]")
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("an image size in pixels")
    return value


def _ratio(value: Any) -> float:
    """The wizard's train share: ``0.8`` or its percentage ``80`` → ``0.8``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("a share such as 0.8 or a percentage such as 80")
    return value / 100 if value > 1 else float(value)


_BATCH = Rename("batch", "Ultralytics' name for images per batch")
_IMGSZ = Rename("imgsz", "Ultralytics' name for the (square) image size", _imgsz)
_LR = Rename("lr0", "the initial learning rate is Ultralytics' lr0")
_EPOCHS = Rename("epochs", "Ultralytics trains for `epochs`")
_VARIANT_RENAME = Rename("variant", "the wizard's model choice is the variant n/s/m/l/x", _variant)
_MODEL = Rename("model", "the weights or model yaml to start from, in the models folder (nothing is downloaded)")
_RUN_NAME = "a run's name is given at launch (--name, the Launch page)"
_DATASET = "the dataset is imported once and chosen at launch (--dataset); its data.yaml is written by Trainyard"
_RUN_FOLDER = "Trainyard keeps each run in its own folder under the runs folder"

SEED_CONFIG = SeedMapping(
    system="YOLO person detection (seed 002) and the YOLOv8 training wizard (seed 003)",
    renames={
        # seed 002: trainer.train(...) and YOLOSettings
        "batch_size": _BATCH,
        "image_size": _IMGSZ,
        "img_size": _IMGSZ,
        "learning_rate": _LR,
        "max_epochs": _EPOCHS,
        "model_path": _MODEL,
        "YOLO_EPOCHS": _EPOCHS,
        "YOLO_BATCH_SIZE": _BATCH,
        "YOLO_IMAGE_SIZE": _IMGSZ,
        "YOLO_LEARNING_RATE": _LR,
        "YOLO_MODEL_PATH": _MODEL,
        "fraction": Rename("data_fraction", "Ultralytics' share of the training set; Trainyard's draws it "
                                            "stratified by class"),
        # seed 003: the wizard's steps
        "task_type": Rename("task", "classify, detect or segment"),
        "model_size": _VARIANT_RENAME,
        "model_variant": _VARIANT_RENAME,
        "initial_learning_rate": _LR,
        "train_ratio": Rename("train_ratio", "the train share when the dataset has no val split", _ratio),
        "random_seed": Rename("seed", "one seed drives the train/val split and training"),
    },
    dropped={
        "name": _RUN_NAME,
        "job_name": _RUN_NAME,
        "description": "a run's description is given at launch (the Launch page)",
        "project": _RUN_FOLDER,
        "YOLO_PROJECT_PATH": _RUN_FOLDER,
        "exist_ok": _RUN_FOLDER,
        "save_dir": _RUN_FOLDER,
        "data": _DATASET,
        "data_config": _DATASET,
        "YOLO_DATASET_PATH": _DATASET,
        "projects": "the datasets are chosen at launch; more datasets of the task join as extra_datasets (by id)",
        "annotation_types": "what a dataset holds (boxes or polygons) is decided when it is imported",
        "resume": "resume a run from the Progress page or its checkpoint list",
        "search_space": "sweeps are set up on the Sweeps page (python -m engine sweep)",
        "num_samples": "sweeps are set up on the Sweeps page (python -m engine sweep)",
        "plots": "Trainyard sets plots itself (Ultralytics' plots are kept in the run's files)",
        "verbose": "Trainyard sets Ultralytics' verbosity itself",
    },
)
