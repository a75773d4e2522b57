"""Per-patient splits: every group (patient folder) lies in exactly one of train, val and test.

Automatic splits shuffle the groups with the seed and cut them by the ratios, keeping at least
one group in every split; manual splits take the config's lists and refuse unknown or overlapping
patients. Pure functions (no torch): the gate and the pages use them too.
"""
from __future__ import annotations

import random
from collections.abc import Sequence

from engine.families.transition.config import SPLITS

__all__ = ["SplitError", "automatic_split", "manual_split", "split_for", "split_counts", "eval_splits"]


def eval_splits(dataset, task=None) -> tuple[str, ...]:
    """The splits a saved model can be evaluated on (``Family.eval_splits_path``): its config's
    per-patient split of this dataset's patients when there are three or more, and ``all``."""
    n = int((dataset.summary or {}).get("n_groups") or 0)
    return (*(("test", "val", "train") if n >= len(SPLITS) else ()), "all")


class SplitError(ValueError):
    """The groups cannot be split as asked; the message says why."""


def split_counts(n_groups: int, ratios: Sequence[float]) -> tuple[int, int, int]:
    """How many groups go to train, val and test: rounded shares with at least one each."""
    if n_groups < len(SPLITS):
        raise SplitError(f"{n_groups} patient group(s): a per-patient split needs at least 3 "
                         f"(one each for train, val and test)")
    total = sum(ratios)
    val = max(1, round(n_groups * ratios[1] / total))
    test = max(1, round(n_groups * ratios[2] / total))
    while n_groups - val - test < 1:  # training needs a group too; take it from the larger holdout
        if val >= test and val > 1:
            val -= 1
        else:
            test -= 1
    return n_groups - val - test, val, test


def automatic_split(groups: Sequence[str], ratios: Sequence[float], seed: int) -> dict[str, list[str]]:
    """Shuffle the distinct groups with ``seed`` and cut them by ``ratios`` (train, val, test)."""
    names = sorted(set(groups))
    n_train, n_val, _ = split_counts(len(names), ratios)
    random.Random(seed).shuffle(names)
    return {"train": sorted(names[:n_train]), "val": sorted(names[n_train:n_train + n_val]),
            "test": sorted(names[n_train + n_val:])}


def manual_split(groups: Sequence[str], train: Sequence[str], val: Sequence[str],
                 test: Sequence[str]) -> dict[str, list[str]]:
    """The given lists, checked: each non-empty, every name a known group, no group twice."""
    known = set(groups)
    out = {"train": list(train), "val": list(val), "test": list(test)}
    owner: dict[str, str] = {}
    for split, names in out.items():
        if not names:
            raise SplitError(f"the manual {split} list is empty")
        for name in names:
            if name not in known:
                raise SplitError(f"patient {name!r} in the {split} list is not a group of this dataset "
                                 f"(groups: {', '.join(sorted(known)) or 'none'})")
            if name in owner:
                raise SplitError(f"patient {name!r} is in both the {owner[name]} and the {split} list")
            owner[name] = split
    return {k: sorted(v) for k, v in out.items()}


def split_for(groups: Sequence[str], config) -> dict[str, list[str]]:
    """The split a run with ``config`` uses on these groups (manual lists or automatic)."""
    if config.manual_splits:
        return manual_split(groups, config.train_patients, config.val_patients, config.test_patients)
    return automatic_split(groups, config.ratios(), config.seed)
