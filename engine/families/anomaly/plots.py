"""One age group's reconstruction errors as files beside its model: ``errors.json`` (the errors
of the held-out normal drawings and of the anomalies, the threshold, the ROC curve; what the
Progress page draws live) and ``plots/error_histogram.png``: errors per split with the threshold
and, where labelled anomalies exist, the ROC curve beside them (scikit-learn's ``roc_curve``)."""
from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np

log = logging.getLogger("trainyard.anomaly")

__all__ = ["ERRORS_FILE", "PLOT_FILE", "CURVES_FILE", "roc_points", "write_error_plots", "write_training_curves"]

ERRORS_FILE = "errors.json"
PLOT_FILE = "error_histogram.png"  # beside the histogram, the ROC curve when labelled anomalies exist
CURVES_FILE = "training_curves.png"
DPI = 80
COLOURS = {"val": "#1f77b4", "test": "#2ca02c", "anomalous": "#d62728"}
LABELS = {"val": "validation (normal)", "test": "test (normal)", "train": "train (normal)", "all": "all normal",
          "anomalous": "labelled anomalies"}


def roc_points(normal: np.ndarray, anomalous: np.ndarray) -> dict[str, list[float]] | None:
    """False and true positive rates of 'error above t' for every threshold t (None without both classes)."""
    if not len(normal) or not len(anomalous):
        return None
    from sklearn.metrics import roc_auc_score, roc_curve

    y = np.concatenate([np.zeros(len(normal)), np.ones(len(anomalous))])
    scores = np.concatenate([normal, anomalous])
    fpr, tpr, _ = roc_curve(y, scores)
    return {"fpr": fpr.round(6).tolist(), "tpr": tpr.round(6).tolist(), "auroc": float(roc_auc_score(y, scores))}


def _figure(width: float, height: float):
    """A bare Agg figure: no pyplot state, no layout engine (each would cost a redraw)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI)


def write_error_plots(out_dir: Path, errors: Mapping[str, np.ndarray], threshold: float, *, group: str,
                      draw: bool = True) -> list[Path]:
    """Write the files; return their paths. A plot that cannot be drawn is logged, never fatal:
    the model is what the run is for. ``draw=False`` (``save_plots: false``) writes only
    ``errors.json`` (the Progress page's live chart reads it): a figure costs ~0.1 s per run."""
    out_dir = Path(out_dir)
    errors = {k: np.asarray(v, float) for k, v in errors.items() if v is not None and len(v)}
    normal = np.concatenate([v for k, v in errors.items() if k != "anomalous"] or [np.zeros(0)])
    roc = roc_points(normal, errors.get("anomalous", np.zeros(0)))
    written = []
    data = {"group": group, "threshold": float(threshold),
            "errors": {k: v.round(8).tolist() for k, v in errors.items()}, "roc": roc}
    path = out_dir / ERRORS_FILE
    path.write_text(json.dumps(data))
    written.append(path)
    if not draw:
        return written
    try:
        plots = out_dir / "plots"
        plots.mkdir(parents=True, exist_ok=True)
        fig = _figure(11 if roc else 7, 4)
        axes = fig.subplots(1, 2, width_ratios=[3, 2]) if roc else [fig.add_subplot()]
        ax = axes[0]
        every = np.concatenate(list(errors.values())) if errors else np.zeros(1)
        bins = np.histogram_bin_edges(np.append(every, threshold), bins=30)
        for key, values in errors.items():
            ax.hist(values, bins=bins, histtype="stepfilled", alpha=0.5, color=COLOURS.get(key),
                    label=f"{LABELS.get(key, key)} ({len(values)})")  # one polygon, not 30 bars, to draw
        ax.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:.4g}")
        ax.set_xlabel("reconstruction error")
        ax.set_ylabel("drawings")
        ax.set_title(f"Reconstruction error, age group {group}")
        ax.legend(fontsize=8)
        if roc:
            ax = axes[1]
            ax.plot(roc["fpr"], roc["tpr"], color=COLOURS["anomalous"], label=f"AUROC {roc['auroc']:.3f}")
            ax.plot([0, 1], [0, 1], color="#999999", linestyle=":")
            ax.set_xlabel("false positive rate (normal flagged)")
            ax.set_ylabel("true positive rate (anomalies flagged)")
            ax.set_title("ROC")
            ax.legend(loc="lower right", fontsize=8)
        fig.subplots_adjust(left=0.07 if roc else 0.1, right=0.98, bottom=0.13, top=0.91, wspace=0.25)
        fig.savefig(plots / PLOT_FILE)  # one file: a figure costs ~0.1 s to render, and every run pays it
        written.append(plots / PLOT_FILE)
    except Exception:
        log.exception("anomaly plots for age group %s not written", group)
    return written


def write_training_curves(out_dir: Path, history, *, group: str) -> Path | None:
    """``plots/training_curves.png``: train loss per epoch and val loss at each validated epoch
    (``history``: ``(epoch, train_loss, val_loss or None)``); rewritten each time it is called."""
    try:
        plots = Path(out_dir) / "plots"
        plots.mkdir(parents=True, exist_ok=True)
        fig = _figure(6, 3.5)
        ax = fig.add_subplot()
        ax.plot([h[0] for h in history], [h[1] for h in history], color=COLOURS["val"], label="train loss")
        val = [(h[0], h[2]) for h in history if h[2] is not None]
        if val:
            ax.plot([e for e, _ in val], [v for _, v in val], color=COLOURS["anomalous"], marker=".", label="val loss")
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel("reconstruction loss (MSE)")
        ax.set_title(f"Training, age group {group}")
        ax.legend(fontsize=8)
        fig.subplots_adjust(left=0.14, right=0.97, bottom=0.14, top=0.9)
        fig.savefig(plots / CURVES_FILE)
        return plots / CURVES_FILE
    except Exception:
        log.exception("training curves for age group %s not drawn", group)
        return None
