"""Is a ``market1501`` dataset enough to train and to evaluate? Pure counts over its samples,
plus the launch gate.

Works on anything with ``label``, ``split``, ``flags`` and ``meta`` (``db.models.Sample`` rows
or scan records), so pages can show it without importing torch or torchreid.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from engine.families.reid.config import ReidConfig, uses_identity_sampler
from engine.subsets import fraction_blockers

__all__ = ["IdentityStats", "identity_stats", "warnings", "launch_blockers", "short_identities", "name_list"]

SHOWN_NAMES = 20


@dataclass
class IdentityStats:
    """Per split: images and cameras of each real identity (junk and distractors counted apart)."""
    images: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))  # split → pid → images
    cameras: dict[str, dict[str, set[int]]] = field(default_factory=lambda: defaultdict(dict))  # split → pid → cams
    images_per_split: dict[str, int] = field(default_factory=dict)
    junk: int = 0
    distractors: int = 0

    def ids(self, split: str) -> set[str]:
        return set(self.images.get(split, {}))

    @property
    def train_ids(self) -> set[str]:
        return self.ids("train")

    @property
    def test_ids(self) -> set[str]:
        return self.ids("query") | self.ids("gallery")

    @property
    def overlap(self) -> list[str]:
        """Identities in both train and test: Market-1501 keeps them disjoint, so scores would flatter."""
        return sorted(self.train_ids & self.test_ids)

    @property
    def query_missing_from_gallery(self) -> list[str]:
        """Query identities without any gallery image: those queries cannot be scored."""
        return sorted(self.ids("query") - self.ids("gallery"))

    def scorable_queries(self) -> list[str]:
        """Query identities with a gallery image from another camera (same-camera matches are
        ignored by the Market-1501 protocol)."""
        gallery = self.cameras.get("gallery", {})
        return sorted(pid for pid, cams in self.cameras.get("query", {}).items()
                      if any(g != q for q in cams for g in gallery.get(pid, ())))

    def rows(self) -> list[dict[str, Any]]:
        """One row per identity and split, for tables and charts."""
        return [{"identity": pid, "split": split, "images": n, "cameras": len(self.cameras[split][pid])}
                for split, per in sorted(self.images.items()) for pid, n in sorted(per.items())]


def identity_stats(samples: Iterable[Any]) -> IdentityStats:
    stats = IdentityStats()
    for s in samples:
        split = s.split or "train"
        stats.images_per_split[split] = stats.images_per_split.get(split, 0) + 1
        flags = s.flags or []
        if "junk" in flags:
            stats.junk += 1
            continue
        if "distractor" in flags:
            stats.distractors += 1
            continue
        stats.images[split][s.label] = stats.images[split].get(s.label, 0) + 1
        stats.cameras[split].setdefault(s.label, set()).add(int((s.meta or {}).get("camera", 0)))
    return stats


def name_list(ids: list[str], counts: dict[str, int] | None = None) -> str:
    """``0003 (1 image), 0007 (2 images) and 5 more``: the first few names, then how many more."""
    shown = [f"{pid} ({counts[pid]} image{'s' if counts[pid] != 1 else ''})" if counts else pid
             for pid in ids[:SHOWN_NAMES]]
    more = f" and {len(ids) - SHOWN_NAMES} more" if len(ids) > SHOWN_NAMES else ""
    return ", ".join(shown) + more


def short_identities(stats: IdentityStats, minimum: int) -> list[str]:
    """Train identities with fewer than ``minimum`` images, fewest first."""
    per = stats.images.get("train", {})
    return sorted((pid for pid, n in per.items() if n < minimum), key=lambda pid: (per[pid], pid))


def warnings(stats: IdentityStats, *, min_identities: int = 10, min_images_per_identity: int = 2,
             num_instances: int | None = None) -> list[str]:
    """What a practitioner would want fixed before training, worst first."""
    out = []
    if not stats.train_ids:
        return ["no train identities: bounding_box_train holds no usable image"]
    if stats.overlap:
        out.append(f"{len(stats.overlap)} identities appear in both train and test ({name_list(stats.overlap)}): "
                   "Market-1501 keeps them disjoint, so rank-1 and mAP would flatter the model")
    if len(stats.train_ids) < min_identities:
        out.append(f"{len(stats.train_ids)} train identities; at least {min_identities} are recommended")
    short = short_identities(stats, min_images_per_identity)
    if short:
        out.append(f"{len(short)} train identities have fewer than {min_images_per_identity} images: "
                   + name_list(short, stats.images["train"]))
    if num_instances:
        short = short_identities(stats, num_instances)
        if short:
            out.append(f"{len(short)} train identities have fewer than num_instances={num_instances} images "
                       "(a triplet batch repeats their images)")
    single_cam = sorted(pid for pid, cams in stats.cameras.get("train", {}).items() if len(cams) < 2)
    if single_cam:
        out.append(f"{len(single_cam)} train identities are seen by one camera only: {name_list(single_cam)}")
    if stats.query_missing_from_gallery:
        out.append(f"{len(stats.query_missing_from_gallery)} query identities have no gallery image and cannot be "
                   f"scored: {name_list(stats.query_missing_from_gallery)}")
    if stats.ids("query") and not stats.scorable_queries():
        out.append("no query identity has a gallery image from another camera: rank-1 and mAP cannot be measured")
    if not stats.ids("query"):
        out.append("no query images: rank-1 and mAP cannot be measured")
    return out


def fraction_shortage(stats: IdentityStats, config: ReidConfig) -> list[str]:
    """Identities that ``data_fraction`` leaves below the images a run needs of each
    (``min_images_per_identity``, and ``num_instances`` for a triplet batch); identities short
    at the full size are named by the other reasons."""
    minimum = max(config.min_images_per_identity, config.num_instances if uses_identity_sampler(config) else 0)
    per = stats.images.get("train", {})
    return fraction_blockers({pid: n for pid, n in per.items() if n >= minimum}, config.data_fraction, minimum,
                             what="train identity", unit="images")


def launch_blockers(dataset: Any, config: ReidConfig) -> list[str]:
    """Reasons to refuse a launch on ``dataset`` (with its samples): too few identities or images
    per identity, a triplet batch the data cannot fill (naming the identities that fall short),
    or nothing to evaluate on."""
    if dataset.kind != "market1501":
        return [f"dataset is of kind {dataset.kind!r}; reid runs need 'market1501'"]
    stats = identity_stats(dataset.samples)
    out = []
    n_ids = len(stats.train_ids)
    if n_ids == 0:
        return ["the dataset has no train identities (bounding_box_train)"]
    if config.min_identities and n_ids < config.min_identities:
        out.append(f"{n_ids} train identities, below min_identities={config.min_identities}")
    if config.min_images_per_identity:
        short = short_identities(stats, config.min_images_per_identity)
        if short:
            out.append(f"{len(short)} train identities below min_images_per_identity="
                       f"{config.min_images_per_identity}: {name_list(short, stats.images['train'])}")
    if uses_identity_sampler(config):
        short = short_identities(stats, config.num_instances)
        if short:
            out.append(f"a triplet batch takes num_instances={config.num_instances} images of each identity; "
                       f"{len(short)} train identities have fewer: {name_list(short, stats.images['train'])}")
        per_batch = config.batch_size // config.num_instances
        if n_ids < per_batch:
            out.append(f"a batch of {config.batch_size} with num_instances={config.num_instances} needs "
                       f"{per_batch} train identities; the dataset has {n_ids}")
    out += fraction_shortage(stats, config)
    if not stats.scorable_queries():
        out.append("no query identity has a gallery image from another camera: the run could not be evaluated")
    return out
