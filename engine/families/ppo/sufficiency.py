"""Is a ``logos`` dataset enough to train the agent? Counts per category and split, unusable
images with their reasons, and the launch gate. Pure computations over Sample rows (anything
with ``label``, ``split``, ``flags`` and ``meta``): no training library is imported.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.families.ppo.config import CATEGORIES
from engine.subsets import kept_count

__all__ = ["CategoryStats", "category_stats", "unusable", "warnings", "launch_blockers", "fraction_of_train", "RECOMMENDED_PER_CATEGORY"]

RECOMMENDED_PER_CATEGORY = 20
SPLITS = ("train", "val", "test")


@dataclass
class CategoryStats:
    category: str
    splits: Counter = field(default_factory=Counter)
    unusable: int = 0

    @property
    def usable(self) -> int:
        return sum(self.splits.values())


def category_stats(samples: Iterable[Any]) -> list[CategoryStats]:
    """Usable images per split and unusable ones, for each of the four categories."""
    stats = {c: CategoryStats(c) for c in CATEGORIES}
    for smp in samples:
        st = stats.get(smp.label or "")
        if st is None:
            continue
        if (smp.meta or {}).get("usable") and smp.split in SPLITS:
            st.splits[smp.split] += 1
        else:
            st.unusable += 1
    return list(stats.values())


def fraction_of_train(stats: Sequence[CategoryStats], fraction: float) -> list[CategoryStats]:
    """The counts a run with ``data_fraction`` trains on: each category's training images cut to
    their stratified share (``engine.subsets.kept_count``), validation and test unchanged."""
    if fraction >= 1:
        return list(stats)
    return [CategoryStats(st.category, Counter({**st.splits, "train": kept_count(st.splits["train"], fraction)}),
                          st.unusable) for st in stats]


def unusable(samples: Iterable[Any]) -> list[tuple[str, str]]:
    """(path, reason) of each image that imported but cannot train."""
    return [(smp.path, (smp.meta or {}).get("reason") or "unusable") for smp in samples
            if not (smp.meta or {}).get("usable")]


def warnings(stats: Sequence[CategoryStats], *, min_per_category: int, categories: Sequence[str] = CATEGORIES) -> list[str]:
    """Why a category is short: too few usable images, or a split without any."""
    out = []
    for st in stats:
        if st.category not in categories:
            continue
        if st.usable < min_per_category:
            out.append(f"category {st.category} has {st.usable} usable image(s), below {min_per_category}"
                       f"{' (recommended: %d)' % RECOMMENDED_PER_CATEGORY if min_per_category < RECOMMENDED_PER_CATEGORY else ''}")
        elif st.splits["train"] == 0:
            out.append(f"category {st.category} has no training image")
    trained = [st for st in stats if st.category in categories and st.splits["train"]]
    for split in ("val", "test"):
        if trained and not any(st.splits[split] for st in trained):
            out.append(f"no usable image in the {split} split; add images so each category has three or more")
    return out


def launch_blockers(dataset: Any, config: Any) -> list[str]:
    """Why this config must not launch on ``dataset`` (with its samples): the wrong kind, or a
    curriculum category without enough usable images (``min_images_per_category``) or without a
    training image."""
    if dataset.kind != "logos":
        return [f"dataset {dataset.name!r} is of kind {dataset.kind!r}; ppo trains on 'logos'"]
    stats = category_stats(dataset.samples)
    stats = fraction_of_train(stats, getattr(config, "data_fraction", 1.0))
    out = warnings(stats, min_per_category=config.min_images_per_category, categories=config.curriculum_order)
    if getattr(config, "data_fraction", 1.0) < 1:
        out = [f"with data_fraction={config.data_fraction:g}, {w}" if w.startswith("category") else w for w in out]
    return [w + "; add images, merge the category into another in categories.yaml, or drop it from curriculum_order"
            if w.startswith("category") else w for w in out]
