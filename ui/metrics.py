"""Headline metrics on every page: which numbers matter for a run, which way is better, tiles."""
from __future__ import annotations

import math
from collections.abc import Mapping

import streamlit as st

from engine.core import Headline
from engine.families import FAMILIES

LOWER_IS_BETTER = ("loss", "error", "seconds", "time")  # for metrics a family did not declare


def headlines(family: str, task: str | None) -> tuple[Headline, ...]:
    """The family's declared headlines for ``task`` (none for an unknown family)."""
    try:
        return FAMILIES[family].headlines_for(task)
    except KeyError:
        return ()


def direction(name: str, family: str | None = None, task: str | None = None) -> str | None:
    """'max', 'min' or None (not comparable): the declared direction, else a guess from the name
    for losses and errors only; everything else is left uncoloured rather than guessed."""
    for h in headlines(family, task) if family else ():
        if h.name == name:
            return h.direction or None
    return "min" if any(word in name.lower() for word in LOWER_IS_BETTER) else None


def fmt(value: object) -> str:
    """A number rounded for people: 4 significant digits, integers as integers."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "—" if value is None else str(value)
    if math.isnan(value) or math.isinf(value):
        return str(value)
    if float(value).is_integer() and abs(value) < 1e9:
        return str(int(value))
    return f"{value:.4g}"


def headline_values(family: str, task: str | None, metrics: Mapping[str, object]) -> list[tuple[Headline, float]]:
    """The headlines present in ``metrics``, in declared order."""
    out = []
    for h in headlines(family, task):
        value = metrics.get(h.name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out.append((h, float(value)))
    return out


def headline_tiles(family: str, task: str | None, metrics: Mapping[str, object], *,
                   delta_against: Mapping[str, object] | None = None, max_tiles: int = 6) -> bool:
    """Show the run's headlines as metric tiles (the ranking one first); with ``delta_against``
    each tile shows its difference, green when better. Returns False when there was nothing to show."""
    values = headline_values(family, task, metrics)[:max_tiles]
    if not values:
        return False
    cols = st.columns(len(values))
    for col, (h, value) in zip(cols, values):
        delta, colour = None, "off"
        ref = (delta_against or {}).get(h.name)
        if isinstance(ref, (int, float)) and not isinstance(ref, bool) and h.direction:
            delta = fmt(value - ref)
            colour = "normal" if h.direction == "max" else "inverse"
        col.metric(h.label or h.name, fmt(value), delta=delta, delta_color=colour,
                   help=f"{h.name} · {'higher' if h.direction == 'max' else 'lower' if h.direction == 'min' else 'no'}"
                        f"{' is better' if h.direction else ' direction'}")
    return True


STAGES = ("train", "val", "test")


def group_metrics(metrics: Mapping[str, object], *, skip: set[str] = frozenset()) -> dict[str, dict[str, float]]:
    """Numeric metrics by stage (``train/…``, ``val/…``, ``test/…``, then everything else under
    ``other``), each group sorted by name; groups with nothing in them are left out."""
    groups: dict[str, dict[str, float]] = {stage: {} for stage in (*STAGES, "other")}
    for name, value in sorted(metrics.items()):
        if name in skip or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        stage = name.split("/", 1)[0] if "/" in name else "other"
        groups[stage if stage in STAGES else "other"][name] = value
    return {stage: values for stage, values in groups.items() if values}


def grouped_metric_tiles(metrics: Mapping[str, object], *, skip: set[str], per_row: int = 6) -> None:
    """All remaining numeric metrics as rounded tiles, one captioned block per stage (train, val,
    test, other); a tile is labelled without its stage prefix and carries the full name as help."""
    for stage, values in group_metrics(metrics, skip=skip).items():
        st.caption(stage)
        items = list(values.items())
        for start in range(0, len(items), per_row):
            cols = st.columns(per_row)
            for col, (name, value) in zip(cols, items[start:start + per_row]):
                short = name.split("/", 1)[1] if stage in STAGES else name
                col.metric(short, fmt(value), help=name)
