"""How the OSNet re-identification trainer's settings (seed 002) read as a ``reid`` config
(``python -m engine config import reid FILE``): torchreid's own nested config (``model.name``,
``data.height``/``width``, ``sampler.*``, ``train.max_epoch``/``lr``/``optim``, ``loss.triplet.*``,
``test.*``), the keyword arguments seed 002 hands to ``ImageDataManager``, ``build_optimizer``,
``build_lr_scheduler``, the engine and ``engine.run`` (``batch_size_train``, ``lr_scheduler``,
``train_sampler``, ``max_epoch`` ...), and its ``OSNetSettings`` (``OSNET_*``)."""
from __future__ import annotations

from typing import Any

from engine.config_import import Rename, SeedMapping

__all__ = ["SEED_CONFIG"]

ALWAYS_APPLIED = ("normalize",)  # torchreid lists it among transforms; Trainyard always normalises


def _transforms(value: Any) -> list[str]:
    """torchreid's transform list without ``normalize`` (always applied here); any other name
    Trainyard does not offer refuses the whole list, naming it."""
    from engine.families.reid.config import TRANSFORMS

    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise ValueError("a list of transform names")
    kept = [str(t) for t in items if str(t) not in ALWAYS_APPLIED]
    unknown = [t for t in kept if t not in TRANSFORMS]
    if unknown:
        raise ValueError(f"{', '.join(unknown)} not offered (one of {', '.join(TRANSFORMS)}; normalize is always on)")
    return kept


def _loss(value: Any) -> str:
    """``softmax`` / ``triplet`` / ``[triplet, softmax]`` → Trainyard's loss (triplet already adds
    weight_x x softmax)."""
    names = {value} if isinstance(value, str) else set(map(str, value)) if isinstance(value, (list, tuple)) else None
    if not names or not names <= {"softmax", "triplet"}:
        raise ValueError("softmax, triplet or both")
    return "triplet" if "triplet" in names else "softmax"


def _stepsize(value: Any) -> int:
    """torchreid's ``stepsize`` is ``20`` or ``[20]`` for single_step."""
    if isinstance(value, (list, tuple)):
        if len(value) != 1:
            raise ValueError("several epochs are multi_step's milestones: set milestones")
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("epochs between decays")
    return value


def _use_gpu(value: Any) -> str:
    if not isinstance(value, bool):
        raise ValueError("true or false")
    return "auto" if value else "cpu"


def _weights(value: Any) -> str | None:
    """torchreid's ``load_weights: ''`` means none."""
    return None if value in ("", None) else str(value)


_MODEL = Rename("model", "the OSNet variant (torchreid's build_model name)")
_EPOCHS = Rename("epochs", "torchreid's max_epoch")
_OPTIM = Rename("optimizer", "torchreid's optim")
_SCHED = Rename("scheduler", "torchreid's lr_scheduler")
_SAMPLER = Rename("sampler", "torchreid's train_sampler")
_TEST_BATCH = Rename("test_batch_size", "images per batch when extracting query/gallery features")
_DATASET = "the dataset is imported once and chosen at launch (--dataset)"
_RUN_FOLDER = "Trainyard keeps each run in its own folder under the runs folder"
_RESUME = "resume a run from the Progress page or its checkpoint list"
_NO_DOWNLOAD = "nothing is downloaded: start from `weights` (a file in the models folder) or init_version"

SEED_CONFIG = SeedMapping(
    system="OSNet re-identification training with torchreid (seed 002)",
    renames={
        # torchreid's nested config (dotted paths win over the bare names)
        "model.name": _MODEL,
        "model.load_weights": Rename("weights", "the weights file to start from, in the models folder", _weights),
        "loss.name": Rename("loss", "softmax or triplet (+ weight_x x softmax)", _loss),
        "test.batch_size": _TEST_BATCH,
        "transforms": Rename("transforms", "torchreid's names; normalize is always applied", _transforms),
        "max_epoch": _EPOCHS,
        "optim": _OPTIM,
        "lr_scheduler": _SCHED,
        "train_sampler": _SAMPLER,
        "stepsize": Rename("stepsize", "single_step's epochs between decays", _stepsize),
        "use_gpu": Rename("device", "true: auto (a GPU when there is one), false: cpu", _use_gpu),
        "loss": Rename("loss", "softmax or triplet (+ weight_x x softmax)", _loss),
        # seed 002's keyword arguments and settings
        "batch_size_train": Rename("batch_size", "training images per batch"),
        "batch_size_test": _TEST_BATCH,
        "architecture": _MODEL,
        "OSNET_ARCHITECTURE": _MODEL,
        "OSNET_EPOCHS": _EPOCHS,
        "OSNET_BATCH_SIZE": Rename("batch_size", "training images per batch"),
        "OSNET_LEARNING_RATE": Rename("lr", "the learning rate"),
        "learning_rate": Rename("lr", "the learning rate is `lr` here"),
    },
    dropped={
        "name": "a run's name is given at launch (--name, the Launch page)",
        "model.pretrained": _NO_DOWNLOAD,
        "pretrained": _NO_DOWNLOAD,
        "model.resume": _RESUME,
        "resume": _RESUME,
        "start_epoch": _RESUME,
        "data.type": "reid trains on images (torchreid's image data); video re-id is not offered",
        "root": _DATASET,
        "OSNET_DATASET_PATH": _DATASET,
        "sources": "the chosen dataset trains; more market1501 datasets join with extra_datasets (by id)",
        "targets": "evaluation is on the chosen dataset's query and gallery",
        "combineall": "query and gallery are never trained on; extra_datasets join other datasets' train identities",
        "load_train_targets": "only the chosen and extra datasets' train identities train",
        "split_id": "a market1501 dataset has one split",
        "norm_mean": "inputs are normalised with ImageNet's mean and std (torchreid's default)",
        "norm_std": "inputs are normalised with ImageNet's mean and std (torchreid's default)",
        "save_dir": _RUN_FOLDER,
        "OSNET_SAVE_DIR": _RUN_FOLDER,
        "num_classes": "the classifier's size is the train identities counted from the data",
        "OSNET_NUM_CLASSES": "the classifier's size is the train identities counted from the data",
        "num_cams": "only RandomSampler and RandomIdentitySampler are offered",
        "num_datasets": "only RandomSampler and RandomIdentitySampler are offered",
        "train_sampler_t": "there are no target-domain datasets to sample",
        "staged_lr": "every layer trains at one lr (fixbase_epoch/open_layers freeze the base first)",
        "new_layers": "every layer trains at one lr (fixbase_epoch/open_layers freeze the base first)",
        "base_lr_mult": "every layer trains at one lr (fixbase_epoch/open_layers freeze the base first)",
        "print_freq": "metrics are recorded every epoch in the database",
        "dampening": "SGD is built with torchreid's default dampening (0)",
        "nesterov": "SGD is built without Nesterov momentum",
        "alpha": "RMSprop is built with torchreid's default alpha",
        "beta1": "Adam's betas are torchreid's build_optimizer defaults",
        "beta2": "Adam's betas are torchreid's build_optimizer defaults",
        "eps": "the optimizer's eps is torch's default",
        "amsgrad": "AMSGrad is its own choice: optimizer: amsgrad",
        "ranks": "rank-1, rank-5, rank-10, rank-20 and mAP are always reported",
        "evaluate": "evaluate a registered model on the Models page (python -m engine evaluate)",
        "test_only": "evaluate a registered model on the Models page (python -m engine evaluate)",
        "start_eval": "evaluation runs every eval_freq epochs from the start",
        "save_checkpoint": "every run saves last.pt each epoch and best.pt when rank-1 improves",
    },
)
