"""VTracer's parameter space: the eight knobs the agent turns, their valid ranges and defaults.

Light on purpose (no vtracer import): the config, the environment, the views and ``predict``
share it. Ranges follow VTracer's documentation (``vtracer --help``); defaults are those of
``vtracer.convert_*`` when a keyword is left out.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["Param", "PARAMS", "PARAM_NAMES", "DEFAULTS", "normalise", "denormalise", "clamp"]


@dataclass(frozen=True)
class Param:
    name: str
    lo: float
    hi: float
    default: float
    integer: bool
    meaning: str


PARAMS: tuple[Param, ...] = (
    Param("color_precision", 1, 8, 6, True, "significant bits per RGB channel (more: more colour layers)"),
    Param("layer_difference", 1, 128, 16, True, "colour difference between gradient layers (less: finer gradients)"),
    Param("corner_threshold", 0, 180, 60, True, "smallest angle in degrees that counts as a corner"),
    Param("length_threshold", 3.5, 10.0, 4.0, False, "shortest segment length before subdivision"),
    Param("max_iterations", 1, 20, 10, True, "curve-fitting iterations"),
    Param("splice_threshold", 0, 180, 45, True, "smallest angle change in degrees that splits a spline"),
    Param("filter_speckle", 0, 16, 4, True, "discard patches smaller than this many pixels (side)"),
    Param("path_precision", 1, 8, 8, True, "decimal places in path coordinates"),
)
PARAM_NAMES: tuple[str, ...] = tuple(p.name for p in PARAMS)
DEFAULTS: dict[str, float] = {p.name: p.default for p in PARAMS}


def clamp(values: Mapping[str, float]) -> dict[str, float]:
    """Valid VTracer keyword arguments: each value inside its range, integers rounded."""
    out: dict[str, float] = {}
    for p in PARAMS:
        v = min(max(float(values.get(p.name, p.default)), p.lo), p.hi)
        out[p.name] = int(round(v)) if p.integer else round(v, 3)
    return out


def normalise(values: Mapping[str, float]) -> list[float]:
    """Parameters as fractions of their ranges, in ``PARAMS`` order (what the agent observes)."""
    v = clamp(values)
    return [(v[p.name] - p.lo) / (p.hi - p.lo) for p in PARAMS]


def denormalise(fractions: Sequence[float]) -> dict[str, float]:
    """Fractions of each range (clipped to [0, 1]) back to valid VTracer parameters."""
    return clamp({p.name: p.lo + min(max(float(f), 0.0), 1.0) * (p.hi - p.lo) for p, f in zip(PARAMS, fractions)})
