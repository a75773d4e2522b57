"""Scores against expert labels: AUROC and precision/recall at a threshold (numpy only)."""
from __future__ import annotations

import numpy as np

__all__ = ["auroc", "precision_recall", "percentile_rank", "percentile_label"]


def auroc(normal_scores: np.ndarray, anomalous_scores: np.ndarray) -> float:
    """Probability that an anomalous drawing scores above a normal one (ties count half)."""
    neg, pos = np.asarray(normal_scores, float), np.asarray(anomalous_scores, float)
    if not len(neg) or not len(pos):
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * ties) / (len(pos) * len(neg)))


def precision_recall(normal_scores: np.ndarray, anomalous_scores: np.ndarray, threshold: float) -> tuple[float, float]:
    """Flag scores above ``threshold``; precision and recall of the anomalous class."""
    tp = int((np.asarray(anomalous_scores) > threshold).sum())
    fp = int((np.asarray(normal_scores) > threshold).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / len(anomalous_scores) if len(anomalous_scores) else 0.0
    return float(precision), float(recall)


def percentile_rank(value: float, reference: np.ndarray) -> float:
    """Where ``value`` falls among ``reference``, in percent: the inverse of ``np.percentile``'s
    default (linear) interpolation, which is how training places the threshold. So the
    threshold of a model trained at ``threshold_percentile`` 95 ranks exactly 95 (distinct
    values), and inside the reference's range ``percentile_rank(a) > percentile_rank(b)``
    exactly when ``a > b``: the verdict (error above threshold) and the percentile agree.
    Below the smallest reference value it is 0, above the largest 100."""
    ref = np.sort(np.asarray(reference, float))
    n = len(ref)
    if not n:
        return float("nan")
    if value < ref[0]:
        return 0.0
    if value >= ref[-1] or n == 1:
        return 100.0
    i = int(np.searchsorted(ref, value, side="right")) - 1  # ref[i] <= value < ref[i + 1]
    frac = (value - ref[i]) / (ref[i + 1] - ref[i])
    return float(100.0 * (i + frac) / (n - 1))


def percentile_label(percentile: float, threshold_percentile: float, anomalous: bool) -> str:
    """The percentile as the page shows it, one decimal, never rounded across the threshold's:
    an anomalous drawing never reads as at or below it, a normal one never above it."""
    shown, limit = round(percentile, 1), round(threshold_percentile, 1)
    if anomalous and shown <= limit:
        return f"> {limit:.1f}"
    if not anomalous and shown > limit:
        return f"≤ {limit:.1f}"
    return f"{shown:.1f}"
