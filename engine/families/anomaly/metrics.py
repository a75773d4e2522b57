"""Scores against expert labels: AUROC and precision/recall at a threshold (numpy only)."""
from __future__ import annotations

import numpy as np

__all__ = ["auroc", "precision_recall", "percentile_of"]


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


def percentile_of(value: float, reference: np.ndarray) -> float:
    """Share of ``reference`` at or below ``value``, in percent."""
    ref = np.asarray(reference, float)
    return float(100.0 * (ref <= value).sum() / len(ref)) if len(ref) else float("nan")
