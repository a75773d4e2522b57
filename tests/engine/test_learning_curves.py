"""The learning-curve fit (engine.learning_curves): known power laws are recovered, too few points
say so, and the doubling sentence follows the fit."""
from __future__ import annotations

import math

import numpy as np
import pytest

from engine.learning_curves import CurvePoint, NotEnoughPoints, PowerLawFit, curve_points, doubling_sentence, fit_power_law

SIZES = (50, 100, 200, 400, 800)


def _points(a: float, b: float, c: float, *, sign: float = 1.0, noise: float = 0.0, repeats: int = 2):
    rng = np.random.default_rng(0)
    return curve_points((n, sign * (a * n ** -b + c) + rng.normal(0, noise), n / SIZES[-1])
                        for n in SIZES for _ in range(repeats))


def test_a_known_power_law_is_recovered_with_its_doubling_gain():
    fit = fit_power_law(_points(2.0, 0.5, 0.1, noise=1e-4), "min")
    assert isinstance(fit, PowerLawFit) and fit.decreasing
    assert fit.b == pytest.approx(0.5, abs=0.05) and fit.c == pytest.approx(0.1, abs=0.01)
    gain, sd = fit.doubling_gain()
    truth = 2.0 * 800 ** -0.5 * (1 - 2 ** -0.5)
    assert gain == pytest.approx(truth, rel=0.05) and 0 < sd < gain
    assert fit.predict(800) == pytest.approx(2.0 * 800 ** -0.5 + 0.1, abs=1e-3)
    assert fit.steep
    assert "has not flattened" in doubling_sentence(fit, "val/loss")


def test_a_metric_to_maximise_is_fitted_as_its_negative():
    fit = fit_power_law(_points(0.8, 0.7, -0.9, sign=-1.0, noise=1e-4), "max")  # value = 0.9 - 0.8 n^-0.7
    assert fit.decreasing and fit.predict(800) == pytest.approx(0.9 - 0.8 * 800 ** -0.7, abs=1e-3)
    assert fit.doubling_gain()[0] > 0  # higher is better: the gain is positive


def test_a_flat_curve_has_flattened():
    fit = fit_power_law(_points(1e-6, 0.5, 0.3, noise=0.01, repeats=3), "min")
    assert fit and not fit.steep
    assert "has flattened" in doubling_sentence(fit, "val/loss")


@pytest.mark.parametrize("measured", [
    [(10, 1.0), (20, 0.8)],  # two sizes
    [(10, 1.0), (20, 0.8), (40, 0.7)],  # three runs: no degree of freedom left
    [(10, 1.0), (20, math.nan), (40, 0.7), (40, 0.71)],  # a NaN is left out: two sizes
])
def test_too_few_points_give_no_curve(measured):
    fit = fit_power_law(curve_points(measured), "min")
    assert isinstance(fit, NotEnoughPoints) and not fit
    assert doubling_sentence(fit, "val/loss").startswith("not enough points")


def test_points_carry_their_spread():
    (p,) = curve_points([(10, 1.0, 0.5), (10, 3.0, 0.5)])
    assert (p.mean, p.low, p.high, p.fraction) == (2.0, 1.0, 3.0, 0.5) and p.sd == pytest.approx(math.sqrt(2))
    assert CurvePoint(5, (1.0,)).sd == 0.0


def test_a_bad_direction_is_refused():
    with pytest.raises(ValueError, match="direction"):
        fit_power_law(_points(1, 1, 0), "up")
