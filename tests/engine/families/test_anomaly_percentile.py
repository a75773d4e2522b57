"""The Analyze verdict and percentile agree: the percentile ranks the error the way training
placed the threshold (``np.percentile``, linear), so "above the threshold" is "percentile above
the threshold's"."""
from __future__ import annotations

import numpy as np
import pytest

from engine.families.anomaly.metrics import percentile_label, percentile_rank


def test_rank_inverts_numpy_percentile():
    val = np.random.default_rng(0).gamma(2.0, 1.0, size=37)
    for q in (0.0, 5.0, 50.0, 95.0, 99.9, 100.0):
        assert percentile_rank(float(np.percentile(val, q)), val) == pytest.approx(q)
    assert percentile_rank(val.min() - 1, val) == 0.0 and percentile_rank(val.max() + 1, val) == 100.0
    assert np.isnan(percentile_rank(1.0, np.array([])))


def test_verdict_and_percentile_agree_around_the_threshold():
    rng = np.random.default_rng(1)
    for n in (5, 20, 21, 200):
        val = rng.gamma(2.0, 1.0, size=n)
        threshold = float(np.percentile(val, 95.0))
        t_rank = percentile_rank(threshold, val)
        assert t_rank == pytest.approx(95.0)
        errors = np.concatenate([np.sort(val), [threshold, np.nextafter(threshold, np.inf),
                                                np.nextafter(threshold, -np.inf)],
                                 rng.uniform(val.min(), val.max(), 500)])
        for e in errors:
            anomalous = e > threshold
            rank = percentile_rank(float(e), val)
            # one ulp from the threshold the two ranks may round to the same float: never the wrong way
            assert (rank >= t_rank) if anomalous else (rank <= t_rank), (n, e, threshold, rank)
            if abs(e - threshold) > 1e-9:
                assert (rank > t_rank) == anomalous
            shown = percentile_label(rank, t_rank, anomalous)
            if anomalous:
                assert shown.startswith(">") or float(shown) > 95.0
            else:
                assert shown.startswith("≤") or float(shown) <= 95.0


def test_old_share_at_or_below_disagreed():
    """The former percentile (share of validation errors at or below) read 95 on both sides of the
    threshold of 20 validation drawings: the case the new rank fixes."""
    val = np.arange(1.0, 21.0)
    assert float(np.percentile(val, 95.0)) == pytest.approx(19.05)  # the threshold between the two
    below, above = 19.01, 19.5
    share = [100.0 * (val <= e).sum() / len(val) for e in (below, above)]
    assert share == [95.0, 95.0]
    assert percentile_rank(below, val) < 95.0 < percentile_rank(above, val)
