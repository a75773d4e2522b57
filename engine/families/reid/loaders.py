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
Item = tuple[str, int, int, int]  # (path relative to its dataset's root, pid, camera index, source index): torchreid's 4-tuple

_ImageDataset = torchreid().data.ImageDataset


class SampleImages(_ImageDataset):
    """torchreid's ``ImageDataset`` whose items are read through ``engine.safeio``; an item's
    source index (torchreid's ``dsetid``) picks the dataset folder it lies in (``roots``)."""

    def __init__(self, root: Path | Sequence[Path], train: list[Item], query: list[Item], gallery: list[Item],
                 **kwargs: Any) -> None:
        self.roots = [Path(r) for r in root] if isinstance(root, (list, tuple)) else [Path(root)]
        self.root = self.roots[0]
        super().__init__(train or query or gallery, query or gallery or train, gallery or query or train,
                         verbose=False, **kwargs)

    def __getitem__(self, index: int) -> dict[str, Any]:
        rel, pid, camid, dsetid = self.data[index]
        img = open_image(inside(self.roots[dsetid], rel))
        if self.transform is not None:
            img = self._transform_image(self.transform, self.k_tfm, img)
        return {"img": img, "pid": pid, "camid": camid, "impath": rel, "dsetid": dsetid}


@dataclass
class Splits:
    train: list[Item]
    query: list[Item]
    gallery: list[Item]
    train_pids: list[str]  # classifier index → Market id


def split_samples(samples: Iterable[Any], extra: Sequence[tuple[str, Iterable[Any]]] = (), *,
                  data_fraction: float = 1.0, seed: int = 0) -> Splits:
    """Market-1501's rules: train ids relabelled 0..N-1; junk (-1) left out everywhere;
    distractors (0000) kept in the gallery only, as pid 0, never matching a query.

    ``extra`` are more datasets, ``(name, samples)``, whose train identities join the training set
    (source index 1, 2, ... in each item): identities stay apart per dataset (``0001`` of one is not
    ``0001`` of another; they are listed as ``NAME/0001``), as torchreid keeps them apart when it
    combines sources. Query and gallery are the first dataset's only. ``data_fraction`` keeps a
    stratified, seed-determined share of each identity's training images."""
    rows = [s for s in samples if "junk" not in (s.flags or [])]
    sources = [("", rows)] + [(name, [s for s in more if "junk" not in (s.flags or [])]) for name, more in extra]
    train: list[tuple[str, Any, int]] = []  # (identity key, sample, source index)
    for index, (name, source_rows) in enumerate(sources):
        train += [(f"{name}/{s.label}" if index else s.label, s, index) for s in source_rows
                  if s.split == "train" and not s.flags]
    # data_fraction: every identity (of every source) keeps its share of its training images
    train = stratified_subset(train, group=lambda t: t[0], fraction=data_fraction, seed=seed, ident=lambda t: t[1].path)
    train_pids = sorted({key for key, _, _ in train}, key=lambda k: ("/" in k, k))
    relabel = {pid: i for i, pid in enumerate(train_pids)}

    def item(s: Any, pid: int, source: int = 0) -> Item:
        return (s.path, pid, int(s.meta["camera"]) - 1, source)

    return Splits(train=[item(s, relabel[key], src) for key, s, src in sorted(train, key=lambda t: (t[2], t[1].path))],
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


def build_data(root: Path, samples: Iterable[Any], config: ReidConfig, *, cuda: bool = False,
               extra: Sequence[Any] = ()) -> ReidData:
    """Loaders for one run: augmented training batches drawn by torchreid's sampler (``k_tfm``
    versions of each image), plain resized query and gallery images for evaluation. ``extra``:
    more datasets (``DatasetRef``-like: ``name``, ``root``, ``samples``) whose train identities
    join the training set."""
    tr = torchreid()
    splits = split_samples(samples, [(ref.name, ref.samples) for ref in extra],
                           data_fraction=config.data_fraction, seed=config.seed)
    roots = [Path(root)] + [Path(ref.root) for ref in extra]
    if not splits.train:
        raise ValueError("the dataset has no train images of real identities (bounding_box_train)")
    if not splits.query or not splits.gallery:
        raise ValueError("the dataset needs query and gallery (bounding_box_test) images to evaluate on")
    with quiet():
        transform_tr, transform_te = tr.data.transforms.build_transforms(
            config.height, config.width, transforms=list(config.transforms))
    train_set = SampleImages(roots, splits.train, splits.query, splits.gallery, transform=transform_tr, mode="train",
                             k_tfm=config.k_tfm)
    sampler_name = "RandomIdentitySampler" if uses_identity_sampler(config) else "RandomSampler"
    sampler = tr.data.sampler.build_train_sampler(train_set.train, sampler_name, batch_size=config.batch_size,
                                                  num_instances=config.num_instances)
    batch = min(config.batch_size, len(splits.train))
    train_loader = _loader(train_set, batch_size=batch, workers=config.workers, cuda=cuda, sampler=sampler,
                           drop_last=True)
    test = {}
    for mode in ("query", "gallery"):
        ds = SampleImages(roots, splits.train, splits.query, splits.gallery, transform=transform_te, mode=mode)
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
