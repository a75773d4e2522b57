"""Train/val/test split of one age group's normal drawings, stratified by age (whole years, or
strata of ``age_group_size`` years: 0.5 splits each half year in the same proportions)."""
from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Sequence

__all__ = ["stratified_split", "train_subset", "EVAL_SPLITS", "eval_splits"]

# what a saved model can be evaluated on: cut from the age group by the model's own config
# (``held-out`` = val + test, the normal side of the trainer's AUROC; ``all`` every normal drawing)
EVAL_SPLITS = ("test", "val", "held-out", "train", "all")


def eval_splits(dataset, task=None) -> tuple[str, ...]:
    """Every drawings dataset has them (``Family.eval_splits_path``)."""
    return EVAL_SPLITS


def stratified_split(ages: Sequence[float], fractions: tuple[float, float, float], seed: int = 0,
                     stratify: bool = True, stratum_years: float = 1.0) -> tuple[list[int], list[int], list[int]]:
    """Indices for train, val and test. Each stratum of ``stratum_years`` of age (or, without
    ``stratify``, the whole group) is split in the given proportions; rounding remainders go to
    train, but val gets at least one item whenever there are three or more."""
    rng = random.Random(seed)
    strata: dict[int, list[int]] = defaultdict(list)
    for i, age in enumerate(ages):
        strata[int(math.floor(age / stratum_years + 1e-9)) if stratify else 0].append(i)
    train: list[int] = []
    val: list[int] = []
    test: list[int] = []
    _, f_val, f_test = fractions
    carry_val = carry_test = 0.0  # fractional shares carried across strata so small years add up
    for key in sorted(strata):
        items = strata[key]
        rng.shuffle(items)
        carry_val += len(items) * f_val
        carry_test += len(items) * f_test
        n_val, n_test = int(carry_val), int(carry_test)
        n_val, n_test = min(n_val, len(items)), min(n_test, len(items) - min(n_val, len(items)))
        carry_val -= n_val
        carry_test -= n_test
        val += items[:n_val]
        test += items[n_val:n_val + n_test]
        train += items[n_val + n_test:]
    if not val and len(train) >= 3:
        val.append(train.pop())
    return sorted(train), sorted(val), sorted(test)


def train_subset(train: Sequence[int], ages: Sequence[float], paths: Sequence[str], fraction: float,
                 seed: int) -> list[int]:
    """The training indices ``data_fraction`` keeps (``engine.subsets``): stratified by whole year
    of age, chosen by ``seed`` and each drawing's path, so the same seed trains on the same files."""
    from engine.subsets import stratified_subset

    return sorted(stratified_subset(list(train), group=lambda i: int(math.floor(ages[i])), fraction=fraction,
                                    seed=seed, ident=lambda i: paths[i]))
