"""Is a ``yolo`` dataset enough to train? Pure counts over its samples, plus the launch gate.

Works on anything with ``label``, ``split`` and ``meta`` (``db.models.Sample`` rows or scan
records), so pages can show it without importing a training library.
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.core import TaskMismatch
from engine.families.yolo.config import compatible_tasks
from engine.subsets import fraction_blockers

__all__ = ["ClassStats", "DatasetStats", "dataset_stats", "box_size_bins", "warnings", "launch_blockers",
           "SIZE_BINS"]

# sqrt(w*h) of a box as a fraction of the image side; COCO's small/medium/large at 640 px ≈ 0.05 / 0.15
SIZE_BINS = ((0.0, 0.05, "tiny (<5%)"), (0.05, 0.15, "small (5-15%)"), (0.15, 0.35, "medium (15-35%)"),
             (0.35, 1.01, "large (>35%)"))


@dataclass
class ClassStats:
    name: str
    images: dict[str, int] = field(default_factory=dict)  # split → images holding this class
    instances: dict[str, int] = field(default_factory=dict)  # split → objects of this class

    @property
    def total_images(self) -> int:
        return sum(self.images.values())

    @property
    def train_images(self) -> int:
        """Images of the train split holding this class: what ``min_per_class`` counts (val and
        test images teach the model nothing)."""
        return self.images.get("train", 0)

    @property
    def total_instances(self) -> int:
        return sum(self.instances.values())


@dataclass
class DatasetStats:
    classes: list[ClassStats]
    images_per_split: dict[str, int]
    backgrounds: int
    box_sides: list[float]  # sqrt(w*h) per box, normalised

    def rows(self) -> list[dict[str, Any]]:
        """One row per class and split, for tables and charts."""
        return [{"class": c.name, "split": s, "images": c.images.get(s, 0), "instances": c.instances.get(s, 0)}
                for c in self.classes for s in sorted(set(c.images) | set(c.instances))]


def dataset_stats(samples: Iterable[Any], names: Sequence[str] = ()) -> DatasetStats:
    images: dict[str, Counter] = defaultdict(Counter)
    instances: dict[str, Counter] = defaultdict(Counter)
    per_split: Counter = Counter()
    backgrounds = 0
    sides: list[float] = []
    for s in samples:
        split = s.split or "train"
        per_split[split] += 1
        meta = s.meta or {}
        counts = meta.get("instances") or ({s.label: 1} if s.label else {})
        if not counts:
            backgrounds += 1
        for cls, n in counts.items():
            images[cls][split] += 1
            instances[cls][split] += int(n)
        sides += [math.sqrt(max(w, 0) * max(h, 0)) for w, h in meta.get("boxes", [])]
    order = list(names) + sorted(set(images) - set(names))
    classes = [ClassStats(n, dict(images.get(n, {})), dict(instances.get(n, {}))) for n in order]
    return DatasetStats(classes, dict(per_split), backgrounds, sides)


def box_size_bins(sides: Iterable[float]) -> dict[str, int]:
    out = {label: 0 for _, _, label in SIZE_BINS}
    for v in sides:
        for lo, hi, label in SIZE_BINS:
            if lo <= v < hi:
                out[label] += 1
                break
    return out


def warnings(stats: DatasetStats, *, min_per_class: int = 100) -> list[str]:
    """What a practitioner would want fixed before training, worst first."""
    out = []
    if not stats.images_per_split:
        return ["the dataset has no valid images"]
    for c in stats.classes:
        if c.train_images < min_per_class:
            out.append(f"class {c.name!r} has {c.train_images} training image(s); at least {min_per_class} "
                       "are recommended")
    if not stats.images_per_split.get("val"):
        out.append("no val split: training splits the train images by the config's train_ratio")
    for c in stats.classes:
        if stats.images_per_split.get("val") and not c.images.get("val"):
            out.append(f"class {c.name!r} has no val images: its metrics cannot be measured")
    counts = [c.total_instances for c in stats.classes if c.total_instances]
    if len(counts) > 1 and max(counts) > 10 * min(counts):
        out.append(f"class imbalance: {max(counts)} vs {min(counts)} instances between the largest and smallest class")
    bins = box_size_bins(stats.box_sides)
    if stats.box_sides and bins[SIZE_BINS[0][2]] > len(stats.box_sides) / 2:
        out.append("most boxes are tiny: consider a larger imgsz")
    return out


def launch_blockers(dataset: Any, config: Any) -> list[str]:
    """Reasons to refuse a launch on ``dataset`` (with its samples and summary): a task the data
    cannot train (a ``TaskMismatch``), or classes with fewer training images than
    ``min_per_class``."""
    samples = list(dataset.samples)
    summary = dict(dataset.summary or {})
    task = summary.get("task")
    out = []
    if config.task not in compatible_tasks(task):
        out.append(TaskMismatch(f"this dataset holds {task or 'no usable'} data and cannot train task "
                                f"{config.task!r}"))
    stats = dataset_stats(samples, summary.get("names", []))
    if not samples:
        out.append("the dataset has no valid images")
    minimum = getattr(config, "min_per_class", 0)
    out += [f"class {c.name!r} has {c.train_images} training image(s), below min_per_class={minimum}"
            for c in stats.classes if minimum and c.train_images < minimum]
    fraction = getattr(config, "data_fraction", 1.0)
    if fraction < 1 and minimum:  # classes already short are named above
        out += fraction_blockers({c.name: c.train_images for c in stats.classes if c.train_images >= minimum},
                                 fraction, minimum, what="class", unit="training images (min_per_class)")
    return out
