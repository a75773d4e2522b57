"""The train, query and gallery loaders of a run, built from a dataset's Sample rows with
torchreid's own pieces: its ``ImageDataset``, ``build_transforms`` and ``build_train_sampler``.

torchreid's ``ImageDataManager`` only finds datasets by folder layout and reads files directly;
``ReidData`` offers the same attributes its ``Engine`` uses (``train_loader``, ``test_loader``,
``num_train_pids``, ...) over the samples already checked at import, and every image is read
through ``engine.safeio`` (confined to the dataset folder, decoded pixels capped).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from engine.families.reid.config import ReidConfig, uses_identity_sampler
from engine.families.reid.library import quiet, torchreid
from engine.safeio import inside, open_image
from engine.subsets import stratified_subset

__all__ = ["ReidData", "SampleImages", "Item", "split_samples", "build_data", "test_transform", "DATASET_NAME"]

DATASET_NAME = "market1501"
Item = tuple[str, int, int, int]  # (path relative to the dataset root, pid, camera index, dataset id): torchreid's 4-tuple

_ImageDataset = torchreid().data.ImageDataset


class SampleImages(_ImageDataset):
    """torchreid's ``ImageDataset`` whose items are read through ``engine.safeio``."""

    def __init__(self, root: Path, train: list[Item], query: list[Item], gallery: list[Item], **kwargs: Any) -> None:
        self.root = Path(root)
        super().__init__(train or query or gallery, query or gallery or train, gallery or query or train,
                         verbose=False, **kwargs)

    def __getitem__(self, index: int) -> dict[str, Any]:
        rel, pid, camid, dsetid = self.data[index]
        img = open_image(inside(self.root, rel))
        if self.transform is not None:
            img = self._transform_image(self.transform, self.k_tfm, img)
        return {"img": img, "pid": pid, "camid": camid, "impath": rel, "dsetid": dsetid}


@dataclass
class Splits:
    train: list[Item]
    query: list[Item]
    gallery: list[Item]
    train_pids: list[str]  # classifier index → Market id


def split_samples(samples: Iterable[Any], *, data_fraction: float = 1.0, seed: int = 0) -> Splits:
    """Market-1501's rules: train ids relabelled 0..N-1; junk (-1) left out everywhere;
    distractors (0000) kept in the gallery only, as pid 0, never matching a query."""
    rows = [s for s in samples if "junk" not in (s.flags or [])]
    train_rows = [s for s in rows if s.split == "train" and not s.flags]
    train_rows = stratified_subset(train_rows, group=lambda s: s.label, fraction=data_fraction, seed=seed,
                                   ident=lambda s: s.path)  # data_fraction: every identity keeps its share
    train_pids = sorted({s.label for s in train_rows})
    index = {pid: i for i, pid in enumerate(train_pids)}

    def item(s: Any, pid: int) -> Item:
        return (s.path, pid, int(s.meta["camera"]) - 1, 0)

    return Splits(train=[item(s, index[s.label]) for s in sorted(train_rows, key=lambda s: s.path)],
                  query=[item(s, int(s.label)) for s in sorted(rows, key=lambda s: s.path)
                         if s.split == "query" and not s.flags],
                  gallery=[item(s, int(s.label)) for s in sorted(rows, key=lambda s: s.path) if s.split == "gallery"],
                  train_pids=train_pids)


def test_transform(height: int, width: int) -> Any:
    with quiet():
        return torchreid().data.transforms.build_transforms(height, width, transforms=None)[1]


@dataclass
class ReidData:
    """What torchreid's ``Engine`` reads from a data manager, over Trainyard's samples."""
    root: Path
    splits: Splits
    height: int
    width: int
    train_loader: DataLoader
    test_loader: dict[str, dict[str, DataLoader]]
    sources: list[str] = field(default_factory=lambda: [DATASET_NAME])
    targets: list[str] = field(default_factory=lambda: [DATASET_NAME])
    data_type: str = "image"

    @property
    def num_train_pids(self) -> int:
        return len(self.splits.train_pids)

    def fetch_test_loaders(self, name: str) -> tuple[Sequence[Item], Sequence[Item]]:
        return self.splits.query, self.splits.gallery


def _loader(dataset: Any, *, batch_size: int, workers: int, cuda: bool, sampler: Any = None,
            drop_last: bool = False) -> DataLoader:
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, shuffle=False, num_workers=workers,
                      pin_memory=cuda, drop_last=drop_last, persistent_workers=False)


def build_data(root: Path, samples: Iterable[Any], config: ReidConfig, *, cuda: bool = False) -> ReidData:
    """Loaders for one run: augmented training batches drawn by torchreid's sampler, plain
    resized query and gallery images for evaluation."""
    tr = torchreid()
    splits = split_samples(samples, data_fraction=config.data_fraction, seed=config.seed)
    if not splits.train:
        raise ValueError("the dataset has no train images of real identities (bounding_box_train)")
    if not splits.query or not splits.gallery:
        raise ValueError("the dataset needs query and gallery (bounding_box_test) images to evaluate on")
    with quiet():
        transform_tr, transform_te = tr.data.transforms.build_transforms(
            config.height, config.width, transforms=list(config.transforms))
    train_set = SampleImages(root, splits.train, splits.query, splits.gallery, transform=transform_tr, mode="train")
    sampler_name = "RandomIdentitySampler" if uses_identity_sampler(config) else "RandomSampler"
    sampler = tr.data.sampler.build_train_sampler(train_set.train, sampler_name, batch_size=config.batch_size,
                                                  num_instances=config.num_instances)
    batch = min(config.batch_size, len(splits.train))
    train_loader = _loader(train_set, batch_size=batch, workers=config.workers, cuda=cuda, sampler=sampler,
                           drop_last=True)
    test = {}
    for mode in ("query", "gallery"):
        ds = SampleImages(root, splits.train, splits.query, splits.gallery, transform=transform_te, mode=mode)
        test[mode] = _loader(ds, batch_size=config.test_batch_size, workers=config.workers, cuda=cuda)
    return ReidData(root=Path(root), splits=splits, height=config.height, width=config.width,
                    train_loader=train_loader, test_loader={DATASET_NAME: test})


def seed_everything(seed: int) -> None:
    """torchreid's samplers draw from Python's and numpy's global generators; torch's for the rest."""
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
