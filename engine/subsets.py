"""A stratified, deterministic subset of a training split: what ``data_fraction`` trains on.

Each family hands its training items with their group (anomaly: whole year of age inside the age
group, ppo: image category, yolo: class, reid: identity, transition: patient); every group keeps
``max(1, round(n · fraction))`` of its items, so the subset has the split's proportions and no
group disappears. The choice depends only on the seed, the group and the items' identities (not
on the order they came in), and the subsets of one seed are nested: what ``fraction=0.25`` keeps
is part of what ``0.5`` keeps, so a learning curve adds data rather than swapping it.
"""
from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import TypeVar

__all__ = ["check_fraction", "kept_count", "kept_counts", "stratified_subset", "fraction_blockers", "group_sizes"]

T = TypeVar("T")


def check_fraction(fraction: float) -> float:
    """``fraction`` as a float when it lies in (0, 1]; else ``ValueError`` naming the value."""
    try:
        f = float(fraction)
    except (TypeError, ValueError):
        raise ValueError(f"data_fraction {fraction!r} is not a number") from None
    if not math.isfinite(f) or not 0 < f <= 1:
        raise ValueError(f"data_fraction {fraction!r} must lie in (0, 1]")
    return f


def kept_count(n: int, fraction: float) -> int:
    """How many of a group's ``n`` items a fraction keeps: ``round(n · fraction)``, at least one
    (none of an empty group)."""
    if n <= 0:
        return 0
    return min(n, max(1, int(math.floor(n * check_fraction(fraction) + 0.5))))


def kept_counts(sizes: Mapping[Hashable, int], fraction: float) -> dict[Hashable, int]:
    """``kept_count`` for every group of ``sizes``."""
    return {g: kept_count(n, fraction) for g, n in sizes.items()}


def _rank(seed: int, group: Hashable, ident: str) -> str:
    return hashlib.sha256(f"{seed}\x00{group}\x00{ident}".encode()).hexdigest()


def stratified_subset(items: Sequence[T], *, group: Callable[[T], Hashable], fraction: float, seed: int,
                      ident: Callable[[T], Hashable] = id) -> list[T]:
    """The items a ``fraction`` of the split keeps, in their given order: per group the
    ``kept_count`` items that rank first by a hash of (seed, group, ``ident(item)``). Give an
    ``ident`` that names the item (its path), so the same seed keeps the same files whatever order
    they arrive in. ``fraction=1`` returns every item."""
    f = check_fraction(fraction)
    if f >= 1:
        return list(items)
    by_group: dict[Hashable, list[int]] = defaultdict(list)
    for i, item in enumerate(items):
        by_group[group(item)].append(i)
    keep: set[int] = set()
    for g, idx in by_group.items():
        ranked = sorted(idx, key=lambda i: _rank(seed, g, str(ident(items[i]))))
        keep.update(ranked[:kept_count(len(idx), f)])
    return [item for i, item in enumerate(items) if i in keep]


def fraction_blockers(sizes: Mapping[Hashable, int], fraction: float, minimum: int, *, what: str,
                      unit: str) -> list[str]:
    """Gate reasons for the groups a fraction leaves below ``minimum`` (one line naming them), or
    [] at ``fraction=1`` or when every group keeps enough. ``what`` names the group kind ("class"),
    ``unit`` the counted items ("training image(s)")."""
    f = check_fraction(fraction)
    if f >= 1 or minimum <= 0:
        return []
    short = [f"{g} ({kept}/{sizes[g]})" for g, kept in kept_counts(sizes, f).items() if kept < minimum]
    if not short:
        return []
    return [f"data_fraction={f:g} leaves {len(short)} {what}(s) below {minimum} {unit}: {', '.join(map(str, short))}"
            f" (kept/all); raise data_fraction or add data"]


def group_sizes(items: Iterable[T], group: Callable[[T], Hashable]) -> dict[Hashable, int]:
    """Items per group."""
    out: dict[Hashable, int] = defaultdict(int)
    for item in items:
        out[group(item)] += 1
    return dict(out)

