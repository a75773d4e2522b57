"""Learning curves: a headline metric against training-set size, a fitted power law and what it says.

The error is modelled as ``err ≈ a·n^-b + c`` (the usual shape of a learning curve: a power-law
decrease towards an irreducible error ``c``), fitted with ``scipy.optimize.curve_fit`` over every
measured run (each repeat is a point, so the spread over repeats weighs in the residuals). A
metric where higher is better is fitted as ``err = -value``, so ``a > 0`` and ``b > 0`` always mean
"more data helps". The expected gain of doubling the data from the largest measured size is
``err(n) - err(2n) = a·n^-b·(1 - 2^-b)``; its uncertainty comes from the fit's covariance by the
delta method. Pure: numbers in, numbers out; no database, queue or UI.
"""
from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["CurvePoint", "PowerLawFit", "NotEnoughPoints", "curve_points", "fit_power_law", "doubling_sentence",
           "MIN_SIZES", "MIN_POINTS", "STEEP_SHARE", "NOISE_SHARE"]

MIN_SIZES = 3  # distinct training-set sizes a three-parameter curve needs
MIN_POINTS = 4  # measured runs: one more than the parameters, so the fit has an uncertainty
STEEP_SHARE = 0.05  # doubling must be expected to gain this share of the gain already seen to call it steep
NOISE_SHARE = 0.5  # ... and more than this share of the repeat-to-repeat spread


@dataclass(frozen=True)
class CurvePoint:
    """The runs measured at one training-set size ``n`` (each repeat's value)."""
    n: float
    values: tuple[float, ...]
    fraction: float | None = None

    @property
    def mean(self) -> float:
        return float(np.mean(self.values))

    @property
    def sd(self) -> float:
        return float(np.std(self.values, ddof=1)) if len(self.values) > 1 else 0.0

    @property
    def low(self) -> float:
        return float(min(self.values))

    @property
    def high(self) -> float:
        return float(max(self.values))


@dataclass(frozen=True)
class NotEnoughPoints:
    """Why there is no curve: too few sizes or runs, or a fit that did not converge."""
    reason: str

    def __bool__(self) -> bool:
        return False


@dataclass(frozen=True)
class PowerLawFit:
    """``err(n) = a·n^-b + c`` (``err = -value`` for a metric to maximise), fitted on ``x = n / n_ref``
    for conditioning; ``cov`` is the covariance of (a, b, c) in that scaling."""
    a: float
    b: float
    c: float
    cov: tuple[tuple[float, float, float], ...]
    n_ref: float
    direction: str  # "min" or "max"
    points: tuple[CurvePoint, ...]

    @property
    def sign(self) -> float:
        return -1.0 if self.direction == "max" else 1.0

    def error(self, n: float) -> float:
        return self.a * (n / self.n_ref) ** -self.b + self.c

    def predict(self, n: float) -> float:
        """The metric the curve expects at training-set size ``n``."""
        return self.sign * self.error(n)

    def predict_sd(self, n: float) -> float:
        """Standard error of ``predict(n)`` (delta method over a, b, c)."""
        x = n / self.n_ref
        grad = np.array([x ** -self.b, -self.a * x ** -self.b * math.log(x), 1.0])
        return _sd(grad, self.cov)

    @property
    def n_max(self) -> float:
        return max(p.n for p in self.points)

    def doubling_gain(self, n: float | None = None) -> tuple[float, float]:
        """(expected improvement of the metric when the data doubles from ``n``, its standard error);
        ``n`` defaults to the largest measured size. Positive is better for either direction."""
        x = (n or self.n_max) / self.n_ref
        shrink = 1 - 2.0 ** -self.b
        gain = self.a * x ** -self.b * shrink
        grad = np.array([x ** -self.b * shrink,
                         self.a * x ** -self.b * (-math.log(x) * shrink + math.log(2) * 2.0 ** -self.b), 0.0])
        return float(gain), _sd(grad, self.cov)

    @property
    def seen_gain(self) -> float:
        """How much the measured mean improved from the smallest size to the largest (>= 0)."""
        ordered = sorted(self.points, key=lambda p: p.n)
        return max(0.0, self.sign * (ordered[0].mean - ordered[-1].mean))

    @property
    def steep(self) -> bool:
        """True when doubling is likely to help: the expected gain exceeds its standard error, is more
        than half the repeat-to-repeat spread (``noise``: less would be lost in it) and at least
        ``STEEP_SHARE`` of the gain already seen from the smallest to the largest size."""
        gain, sd = self.doubling_gain()
        if not math.isfinite(sd):
            return False
        return gain > sd and gain > NOISE_SHARE * self.noise and gain >= STEEP_SHARE * self.seen_gain

    @property
    def noise(self) -> float:
        """The pooled standard deviation of the repeats (0 without repeats)."""
        var = [p.sd ** 2 for p in self.points if len(p.values) > 1]
        return math.sqrt(sum(var) / len(var)) if var else 0.0

    @property
    def decreasing(self) -> bool:
        """The fitted error falls with more data."""
        return self.a > 0 and self.b > 0

    def as_dict(self) -> dict[str, float | bool]:
        gain, sd = self.doubling_gain()
        return {"a": self.a, "b": self.b, "c": self.c, "n_ref": self.n_ref, "gain": gain, "gain_sd": sd,
                "steep": self.steep, "predicted_full": self.predict(self.n_max),
                "predicted_full_sd": self.predict_sd(self.n_max)}


def _sd(grad: np.ndarray, cov: Sequence[Sequence[float]]) -> float:
    var = float(grad @ np.asarray(cov, dtype=float) @ grad)
    return math.sqrt(var) if math.isfinite(var) and var >= 0 else math.inf


def curve_points(measured: Iterable[tuple[float, float] | tuple[float, float, float]]) -> list[CurvePoint]:
    """Group ``(n, value[, fraction])`` measurements by size, smallest first; non-finite values are left out."""
    by_n: dict[float, list[float]] = defaultdict(list)
    fractions: dict[float, float | None] = {}
    for item in measured:
        n, value = float(item[0]), float(item[1])
        if not (math.isfinite(n) and n > 0 and math.isfinite(value)):
            continue
        by_n[n].append(value)
        fractions[n] = float(item[2]) if len(item) > 2 and item[2] is not None else None
    return [CurvePoint(n, tuple(v), fractions[n]) for n, v in sorted(by_n.items())]


def fit_power_law(points: Sequence[CurvePoint], direction: str = "min") -> PowerLawFit | NotEnoughPoints:
    """Fit ``err = a·n^-b + c`` over every measured value of ``points``; ``NotEnoughPoints`` with
    the reason when there are fewer than ``MIN_SIZES`` sizes or ``MIN_POINTS`` runs, or the fit
    does not converge. ``a >= 0`` and ``0 <= b <= 4`` are bounds: a curve that falls with data."""
    from scipy.optimize import curve_fit

    if direction not in ("min", "max"):
        raise ValueError(f"direction must be 'min' or 'max', got {direction!r}")
    points = [p for p in points if p.values]
    total = sum(len(p.values) for p in points)
    if len(points) < MIN_SIZES or total < MIN_POINTS:
        return NotEnoughPoints(f"not enough points: {len(points)} training-set size(s) and {total} finished run(s); "
                               f"a curve needs {MIN_SIZES} sizes and {MIN_POINTS} runs")
    sign = -1.0 if direction == "max" else 1.0
    n_ref = max(p.n for p in points)
    x = np.array([p.n / n_ref for p in points for _ in p.values])
    y = np.array([sign * v for p in points for v in p.values])
    spread = float(np.ptp(y)) or max(abs(float(np.mean(y))), 1.0) * 1e-3
    b0 = 0.5
    p0 = [spread, b0, float(np.min(y))]

    def model(xx, a, b, c):
        return a * np.power(xx, -b) + c

    try:
        params, cov = curve_fit(model, x, y, p0=p0, bounds=([0.0, 0.0, -np.inf], [np.inf, 4.0, np.inf]),
                                maxfev=20000)
    except (RuntimeError, ValueError) as exc:
        return NotEnoughPoints(f"the power law did not fit these points ({exc})")
    a, b, c = (float(v) for v in params)
    cov_t = tuple(tuple(float(v) for v in row) for row in np.asarray(cov))
    return PowerLawFit(a, b, c, cov_t, n_ref, direction, tuple(points))


def _fmt(value: float) -> str:
    if not math.isfinite(value):
        return "?"
    return f"{value:.2g}" if abs(value) < 0.01 else f"{value:.3g}" if abs(value) < 10 else f"{value:.4g}"


def doubling_sentence(fit: PowerLawFit | NotEnoughPoints, metric: str) -> str:
    """The plain sentence a page shows: "doubling the training data is expected to improve val/loss
    by 0.04 ± 0.02; the curve has not flattened" (or why there is no curve)."""
    if not fit:
        return fit.reason
    gain, sd = fit.doubling_gain()
    verb = "improve" if gain >= 0 else "change"
    state = "has not flattened (more data likely helps)" if fit.steep else "has flattened"
    return f"doubling the training data is expected to {verb} {metric} by {_fmt(gain)} ± {_fmt(sd)}; the curve {state}"
