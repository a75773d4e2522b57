"""The divergence guard: a loss that turns NaN/inf or explodes ends the run with advice.

Every family logs through ``RunContext.log``, so the context runs this check on every logged
metric whose name contains ``loss``: no family has to remember it. A loss is judged against its
own first finite value, so a family whose losses start large is not penalised.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping

__all__ = ["DivergenceGuard", "is_loss"]

ADVICE = "try a lower learning rate"
EXPLODE_FLOOR = 1.0  # a loss that starts near 0 may grow many-fold and still be small: not an explosion


def is_loss(name: str) -> bool:
    return "loss" in name.lower()


def _where(step: int, epoch: int | None) -> str:
    return f"step {step}" + (f" (epoch {epoch})" if epoch is not None else "")


class DivergenceGuard:
    """Remembers each loss's first finite value; ``check`` returns why the run diverged, or None.

    ``factor`` > 0: a loss above ``factor`` × |its first finite value| (and above
    ``EXPLODE_FLOOR``) has exploded; a first value of 0 gives no scale, so only NaN/inf count for
    that loss, and a loss falling below zero (log-likelihoods) is never "exploding". ``factor`` = 0: only
    NaN/inf. ``first_value(name)`` looks up a loss's first value recorded before a resume.
    """

    def __init__(self, factor: float, first_value: Callable[[str], float | None] | None = None) -> None:
        self.factor = float(factor)
        self._first: dict[str, float | None] = {}
        self._lookup = first_value

    def check(self, metrics: Mapping[str, float | None], *, step: int, epoch: int | None = None) -> str | None:
        for name, value in metrics.items():
            if value is None or not is_loss(str(name)):
                continue
            value = float(value)
            if math.isnan(value):
                return f"loss became NaN at {_where(step, epoch)}; {ADVICE}"
            if math.isinf(value):
                return f"loss became {'inf' if value > 0 else '-inf'} at {_where(step, epoch)}; {ADVICE}"
            first = self._first_value(str(name), value)
            if self.factor > 0 and first and value > max(self.factor * abs(first), EXPLODE_FLOOR):
                return (f"loss exploded to {value:.4g} (over {self.factor:g}× its first value {first:.4g}) at "
                        f"{_where(step, epoch)}; {ADVICE}")
        return None

    def _first_value(self, name: str, value: float) -> float | None:
        if name not in self._first:
            earlier = self._lookup(name) if self._lookup else None
            self._first[name] = earlier if earlier is not None else value
        return self._first[name]
