"""Is a ``transitions`` dataset enough for a per-patient split? Pure counts over samples
(anything with ``label`` = patient and ``meta``), plus the launch gate. No training library."""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from engine.families.transition.splits import SplitError, split_counts, split_for
from engine.subsets import fraction_blockers

__all__ = ["samples_per_group", "split_preview", "warnings", "launch_blockers", "RECOMMENDED_GROUPS"]

RECOMMENDED_GROUPS = 7  # with 70/15/15 the smallest split that still gives val and test a patient each


def samples_per_group(samples: Iterable[Any]) -> dict[str, int]:
    """Transitions per patient folder, sorted by patient."""
    return dict(sorted(Counter(s.label for s in samples if s.label).items()))


def split_preview(groups: list[str], config) -> dict[str, list[str]] | str:
    """The split a launch with ``config`` would use, or the reason there is none."""
    try:
        return split_for(groups, config)
    except SplitError as exc:
        return str(exc)


def warnings(per_group: dict[str, int], config) -> list[str]:
    """Plain-language concerns that do not block a launch."""
    out = []
    if len(per_group) < RECOMMENDED_GROUPS and not config.manual_splits:
        try:
            n = split_counts(len(per_group), config.ratios())
            out.append(f"{len(per_group)} patients split {n[0]}/{n[1]}/{n[2]}: validation and test rest on very "
                       f"few patients; {RECOMMENDED_GROUPS}+ are recommended")
        except SplitError:
            pass
    return out


def launch_blockers(dataset: Any, config: Any) -> list[str]:
    """Reasons to refuse a launch on ``dataset`` (with its samples): the wrong kind, too few
    patients for the split (at least one per split), manual lists naming unknown or shared
    patients, or patients below ``min_samples_per_group`` transitions."""
    if dataset.kind != "transitions":
        return [f"dataset {dataset.name!r} is of kind {dataset.kind!r}; transition models train on 'transitions'"]
    per_group = samples_per_group(dataset.samples)
    out = []
    split = split_preview(list(per_group), config)
    if isinstance(split, str):
        out.append(split)
        used = list(per_group)
    else:
        used = [g for names in split.values() for g in names]
    short = [f"{g} ({per_group.get(g, 0)})" for g in used if per_group.get(g, 0) < config.min_samples_per_group]
    if short:
        out.append(f"{len(short)} patient(s) below min_samples_per_group={config.min_samples_per_group} "
                   f"transitions: {', '.join(short)}")
    if not isinstance(split, str):  # data_fraction shrinks the training patients' transitions only
        trained = {g: per_group.get(g, 0) for g in split["train"] if per_group.get(g, 0) >= config.min_samples_per_group}
        out += fraction_blockers(trained, getattr(config, "data_fraction", 1.0), config.min_samples_per_group,
                                 what="training patient", unit="transitions (min_samples_per_group)")
    return out
