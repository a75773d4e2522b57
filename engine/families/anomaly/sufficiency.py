"""Is a ``drawings`` dataset enough to train one model per age group? Pure computations over
samples (anything with ``group_value``, ``label``, ``flags`` and ``meta``), plus the launch gate.

No training library is imported: the Data Sufficiency and Launch pages use this directly.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.families.anomaly.config import AGE_MAX, RECOMMENDED_SAMPLES, AgeRange, auto_age_groups, parse_age_range
from engine.families.anomaly.data import is_anomalous
from engine.families.anomaly.splits import stratified_split, train_subset

__all__ = ["RECOMMENDED_SAMPLES", "DEFAULT_MIN_SAMPLES", "GroupStats", "MergeSuggestion", "group_stats",
           "auto_age_groups", "merge_suggestions", "flag_counts", "launch_blockers",
           "kept_normal", "fraction_blockers"]

DEFAULT_MIN_SAMPLES = 10


@dataclass
class GroupStats:
    group: AgeRange
    normal: int = 0
    anomalous: int = 0
    subjects: Counter = field(default_factory=Counter)
    labels: Counter = field(default_factory=Counter)

    @property
    def label(self) -> str:
        return self.group.label

    @property
    def total(self) -> int:
        return self.normal + self.anomalous


@dataclass(frozen=True)
class MergeSuggestion:
    groups: tuple[str, ...]
    merged: str
    normal: int
    enough: bool

    def __str__(self) -> str:
        verdict = "enough" if self.enough else "still short"
        return f"merge {' + '.join(self.groups)} into {self.merged}: {self.normal} normal drawings ({verdict})"


def _in(group: AgeRange, age: float | None) -> bool:
    return age is not None and group.contains(float(age))


def group_stats(samples: Iterable[Any], groups: Sequence[AgeRange]) -> list[GroupStats]:
    """Counts per age group: normal and anomalous drawings, subjects and labels. Only normal
    drawings train a model, so they are what ``min_samples`` is measured against."""
    stats = [GroupStats(g) for g in groups]
    for smp in samples:
        for st in stats:
            if _in(st.group, smp.group_value):
                if is_anomalous(smp.label):
                    st.anomalous += 1
                else:
                    st.normal += 1
                st.subjects[(smp.meta or {}).get("subject") or "unknown"] += 1
                st.labels[smp.label or "unlabelled"] += 1
    return stats


def merge_suggestions(stats: Sequence[GroupStats], min_samples: int) -> list[MergeSuggestion]:
    """For each run of adjacent groups that fall short, the merge that reaches ``min_samples``:
    the short group grows toward its smaller adjacent neighbour until it has enough (or nothing
    adjacent is left). Groups that do not touch are never merged."""
    ordered = sorted(stats, key=lambda s: s.group)
    out: list[MergeSuggestion] = []
    used: set[int] = set()
    for i, st in enumerate(ordered):
        if st.normal >= min_samples or i in used:
            continue
        left = right = i
        total = st.normal
        while total < min_samples:
            cands = []
            if left > 0 and ordered[left - 1].group.hi == ordered[left].group.lo and left - 1 not in used:
                cands.append((ordered[left - 1].normal, left - 1))
            if right + 1 < len(ordered) and ordered[right + 1].group.lo == ordered[right].group.hi:
                cands.append((ordered[right + 1].normal, right + 1))
            if not cands:
                break
            _, j = min(cands)
            total += ordered[j].normal
            left, right = min(left, j), max(right, j)
        if right == left:
            continue
        used.update(range(left, right + 1))
        merged = AgeRange(ordered[left].group.lo, ordered[right].group.hi)
        out.append(MergeSuggestion(tuple(ordered[k].label for k in range(left, right + 1)), merged.label, total,
                                   total >= min_samples))
    return out


def flag_counts(samples: Iterable[Any]) -> Counter:
    """Image problems that still imported (``tiny``, ``blank``), counted per flag."""
    return Counter(f for smp in samples for f in (smp.flags or []))


def samples_in_group(samples: Iterable[Any], group: AgeRange) -> list[Any]:
    """The age-keyed samples whose age lies in the group (``[lo, hi)``; the last group also
    takes ``hi``), in their order."""
    include_hi = group.hi >= AGE_MAX
    return [smp for smp in samples if smp.group_key == "age" and smp.group_value is not None
            and group.lo <= smp.group_value and (smp.group_value <= group.hi if include_hi
                                                 else smp.group_value < group.hi)]


def launch_blockers(dataset: Any, config: Any) -> list[str]:
    """Why this config must not launch on ``dataset`` (an ``engine.core.DatasetRef`` with its
    samples): the wrong kind of dataset, or its age group has fewer normal drawings than
    ``min_samples``."""
    group = parse_age_range(config.age_group)
    if dataset.kind != "drawings":
        return [f"dataset {dataset.name!r} is of kind {dataset.kind!r}; anomaly models train on 'drawings'"]
    (st,) = group_stats(samples_in_group(dataset.samples, group), [group])
    if st.normal < config.min_samples:
        hint = " (recommended: 50)" if config.min_samples < RECOMMENDED_SAMPLES else ""
        return [f"age group {group.label} has {st.normal} normal drawing(s), below min_samples={config.min_samples}"
                f"{hint}; merge it with an adjacent group or add drawings"]
    return fraction_blockers(dataset, config)


def kept_normal(samples: Sequence[Any], config: Any) -> tuple[int, int]:
    """(normal drawings the run uses, normal drawings of the group) under ``config.data_fraction``:
    the training split shrinks to its stratified subset, validation and test stay whole."""
    normal = [r for r in samples_in_group(samples, parse_age_range(config.age_group)) if not is_anomalous(r.label)]
    ages = [float(r.group_value) for r in normal]
    tr, va, te = stratified_split(ages, (config.train_split, config.val_split, config.test_split),
                                  seed=config.seed, stratify=config.stratify_by_age)
    kept = train_subset(tr, ages, [r.path for r in normal], config.data_fraction, config.seed)
    return len(kept) + len(va) + len(te), len(normal)


def fraction_blockers(dataset: Any, config: Any) -> list[str]:
    """Why ``config.data_fraction`` is too small for the age group: it leaves fewer normal drawings
    than ``min_samples`` (or no training drawing at all)."""
    if getattr(config, "data_fraction", 1.0) >= 1:
        return []
    kept, total = kept_normal(list(dataset.samples), config)
    if kept < config.min_samples:
        return [f"data_fraction={config.data_fraction:g} leaves age group {config.age_group} with {kept} of {total} "
                f"normal drawing(s), below min_samples={config.min_samples}; raise data_fraction or add drawings"]
    return []
