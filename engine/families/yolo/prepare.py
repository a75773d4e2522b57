"""The training view of a scanned dataset: only its valid images, with a val split.

Several scanned datasets make one view (``build_training_view(reports, names=, maps=)``): each
source's class ids become the final ids of its ``maps`` entry (a class left out of the map is
dropped from the labels), so label files are rewritten into the view instead of linked; with
one dataset and no change of classes they are linked as they are.

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
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

from engine.datasets import ScanReport
from engine.families.yolo.data import label_path_for
from engine.safeio import read_text
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


def _rewrite_labels(src: Path, dst: Path, mapping: Mapping[int, int]) -> None:
    """The label file with each line's class id mapped (lines of dropped classes left out; an
    image without any kept line becomes a background image). The scan already validated it."""
    lines = []
    for raw in read_text(src).splitlines():
        parts = raw.split()
        if not parts:
            continue
        new = mapping.get(int(float(parts[0])))
        if new is not None:
            lines.append(" ".join([str(new), *parts[1:]]))
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text("".join(f"{line}\n" for line in lines))


def build_training_view(report: ScanReport | Sequence[ScanReport], out_dir: Path, *, train_ratio: float = 0.8,
                        seed: int = 0, names: Sequence[str] | None = None,
                        maps: Sequence[Mapping[int, int]] | None = None,
                        data_fraction: float = 1.0) -> tuple[Path, dict[str, int]]:
    """Write the view under ``out_dir``; return what Ultralytics' ``data=`` takes and the split sizes.

    ``report`` is one scanned dataset or several of the same task; ``names`` the final classes and
    ``maps`` each source's class id → final id (default: the first dataset's classes, unchanged).
    A source without a val split gets one drawn from its train images (``train_ratio``, ``seed``).
    ``data_fraction`` keeps a stratified share of each source's train split by the image's (main)
    class, the same images for the same seed; val and test are untouched."""
    out_dir = Path(out_dir)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    reports = [report] if isinstance(report, ScanReport) else list(report)
    first_names = list(reports[0].summary.get("names", []))
    names = list(names) if names is not None else first_names
    if maps is None:
        maps = [{i: i for i in range(len(first_names))}] + [None] * (len(reports) - 1)  # type: ignore[list-item]
    per_source = [_splits(r, train_ratio=train_ratio, seed=seed) for r in reports]
    for splits in per_source:
        if splits.get("train"):
            splits["train"] = stratified_subset(splits["train"], group=lambda s: s.label or "(background)",
                                                fraction=data_fraction, seed=seed, ident=lambda s: s.path)
    sizes: dict[str, int] = defaultdict(int)
    for splits in per_source:
        for k, v in splits.items():
            sizes[k] += len(v)
    sizes = dict(sizes)
    classify = reports[0].summary.get("task") == "classify"
    if classify:
        for index, (rep, splits, mapping) in enumerate(zip(reports, per_source, maps)):
            src_names = list(rep.summary.get("names", []))
            rename = {src_names[i]: names[j] for i, j in (mapping or {}).items() if i < len(src_names)}
            prefix = f"{index}_" if len(reports) > 1 else ""
            for split, samples in splits.items():
                for s in samples:
                    if s.label not in rename:  # a class without training images, or one left out
                        continue
                    src = Path(rep.root) / s.path
                    _link(src, out_dir / split / rename[s.label] / f"{prefix}{Path(s.path).parent.name}_{src.name}")
        return out_dir, sizes
    data: dict[str, object] = {"path": str(out_dir)}
    counter: dict[str, int] = defaultdict(int)
    listed: dict[str, list[str]] = defaultdict(list)
    for rep, splits, mapping in zip(reports, per_source, maps):
        identity = len(reports) == 1 and mapping == {i: i for i in range(len(names))}
        for split, samples in splits.items():
            for s in samples:
                src = Path(rep.root) / s.path
                image = out_dir / "images" / split / f"{counter[split]:06d}_{src.name}"
                counter[split] += 1
                _link(src, image)
                if identity:
                    _link(label_path_for(src), label_path_for(image))
                else:
                    _rewrite_labels(label_path_for(src), label_path_for(image), mapping or {})
                listed[split].append(f"{image}\n")
    for split, lines in listed.items():
        (out_dir / f"{split}.txt").write_text("".join(lines))
        data[split] = f"{split}.txt"
    data["names"] = dict(enumerate(names))
    (out_dir / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return out_dir / "data.yaml", sizes
