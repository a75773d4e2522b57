"""The data_fraction subset (engine.subsets): stratified, deterministic, nested, and refused
outside (0, 1]."""
from __future__ import annotations

import math
from collections import Counter

import pytest

from engine.subsets import check_fraction, fraction_blockers, kept_count, stratified_subset

ITEMS = [(f"{g}/{i:03d}.png", g) for g, n in (("a", 40), ("b", 10), ("c", 1)) for i in range(n)]


def _pick(items, fraction, seed):
    return stratified_subset(items, group=lambda it: it[1], fraction=fraction, seed=seed, ident=lambda it: it[0])


def test_every_group_keeps_its_share_and_at_least_one():
    kept = Counter(g for _, g in _pick(ITEMS, 0.25, seed=1))
    assert kept == {"a": 10, "b": 3, "c": 1}  # round half up: 2.5 → 3


def test_same_seed_same_files_whatever_the_order():
    first = {p for p, _ in _pick(ITEMS, 0.5, seed=7)}
    again = {p for p, _ in _pick(list(reversed(ITEMS)), 0.5, seed=7)}
    other = {p for p, _ in _pick(ITEMS, 0.5, seed=8)}
    assert first == again and first != other


def test_subsets_of_one_seed_are_nested_and_fraction_one_is_everything():
    small = {p for p, _ in _pick(ITEMS, 0.125, seed=3)}
    large = {p for p, _ in _pick(ITEMS, 0.5, seed=3)}
    assert small < large
    assert _pick(ITEMS, 1.0, seed=3) == ITEMS


@pytest.mark.parametrize("bad", [0, -0.1, 1.5, math.nan, math.inf, "x", None])
def test_bad_fractions_are_refused_naming_the_value(bad):
    with pytest.raises(ValueError, match="data_fraction"):
        check_fraction(bad)
    with pytest.raises(ValueError, match="data_fraction"):
        _pick(ITEMS, bad, seed=0)


def test_the_gate_names_the_groups_a_fraction_leaves_short():
    assert kept_count(0, 0.5) == 0 and kept_count(3, 0.01) == 1
    (reason,) = fraction_blockers({"cat": 40, "dog": 8}, 0.25, 5, what="class", unit="training images")
    assert "dog (2/8)" in reason and "cat" not in reason and "data_fraction=0.25" in reason
    assert fraction_blockers({"cat": 40}, 1.0, 50, what="class", unit="images") == []
