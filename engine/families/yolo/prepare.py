"""The training view of a scanned dataset: only its valid images, with a val split.

Detect and segment get a ``data.yaml`` whose splits are list files of ``images/<split>/``
links, each with its label linked at ``labels/<split>/`` (Ultralytics' images→labels rule);
classify gets ``<split>/<class>/`` folders of links, because Ultralytics reads classify data
from folders. Nothing is written into the dataset, and Ultralytics' label cache
(``labels/<split>.cache``, which it unpickles) is looked for and written only in the view: a
``.cache`` planted in a dataset folder is never loaded.
"""
from __future__ import annotations

import os
import random
import shutil
from collections import defaultdict
from pathlib import Path

import yaml

from engine.datasets import ScanReport
from engine.families.yolo.data import label_path_for
from engine.subsets import stratified_subset

__all__ = ["build_training_view", "split_train_val"]


def split_train_val(paths: list[str], *, train_ratio: float, seed: int) -> tuple[list[str], list[str]]:
    """Deterministic split of ``paths`` (sorted first, then shuffled by ``seed``); val gets at least one."""
    items = sorted(paths)
    random.Random(seed).shuffle(items)
    n_train = min(max(1, round(len(items) * train_ratio)), len(items) - 1) if len(items) > 1 else len(items)
    return sorted(items[:n_train]), sorted(items[n_train:])


def _splits(report: ScanReport, *, train_ratio: float, seed: int) -> dict[str, list]:
    by_split: dict[str, list] = defaultdict(list)
    for s in report.samples:
        by_split[s.split or "train"].append(s)
    if not by_split.get("val") and by_split.get("train"):
        index = {s.path: s for s in by_split["train"]}
        train, val = split_train_val(list(index), train_ratio=train_ratio, seed=seed)
        by_split["train"] = [index[p] for p in train]
        by_split["val"] = [index[p] for p in val]
    return dict(by_split)


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.symlink(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def build_training_view(report: ScanReport, out_dir: Path, *, train_ratio: float = 0.8, seed: int = 0,
                        data_fraction: float = 1.0) -> tuple[Path, dict[str, int]]:
    """Write the view under ``out_dir``; return what Ultralytics' ``data=`` takes and the split sizes."""
    out_dir = Path(out_dir)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    root = Path(report.root)
    splits = _splits(report, train_ratio=train_ratio, seed=seed)
    if splits.get("train"):  # data_fraction: a stratified share by the image's (main) class
        splits["train"] = stratified_subset(splits["train"], group=lambda s: s.label or "(background)",
                                            fraction=data_fraction, seed=seed, ident=lambda s: s.path)
    sizes = {k: len(v) for k, v in splits.items()}
    if report.summary.get("task") == "classify":
        names = set(report.summary.get("names", []))
        for split, samples in splits.items():
            for s in samples:
                if s.label not in names:  # a class without training images would shift class indices
                    continue
                src = root / s.path
                _link(src, out_dir / split / s.label / f"{Path(s.path).parent.name}_{src.name}")
        return out_dir, sizes
    data: dict[str, object] = {"path": str(out_dir)}
    for split, samples in splits.items():
        listed = []
        for i, s in enumerate(samples):
            src = root / s.path
            image = out_dir / "images" / split / f"{i:06d}_{src.name}"
            _link(src, image)
            _link(label_path_for(src), label_path_for(image))
            listed.append(f"{image}\n")
        (out_dir / f"{split}.txt").write_text("".join(listed))
        data[split] = f"{split}.txt"
    data["names"] = dict(enumerate(report.summary.get("names", [])))
    (out_dir / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return out_dir / "data.yaml", sizes
