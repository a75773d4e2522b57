"""A run's artifacts beside its checkpoints: ``experiment_config.json``, ``dataset_stats.json``,
``split.json`` and the plots ``plots/dataset_statistics.png`` and ``plots/training_summary.png``
(matplotlib, headless)."""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engine.families.transition.config import AXES, SPLITS

__all__ = ["write_json", "dataset_stats", "plot_dataset_statistics", "plot_training_summary"]


def write_json(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=False))
    return path


def dataset_stats(split: Mapping[str, Sequence[str]], items_by_split: Mapping[str, Sequence[Any]]) -> dict[str, Any]:
    """Patients and transitions per split, transitions per patient, action statistics per axis."""
    per_patient = Counter(t.group for items in items_by_split.values() for t in items)
    out: dict[str, Any] = {"splits": {s: {"patients": list(split[s]), "transitions": len(items_by_split[s])}
                                      for s in SPLITS},
                           "transitions_per_patient": dict(sorted(per_patient.items())), "actions": {}}
    every = [t for items in items_by_split.values() for t in items]
    if every:
        change = np.array([t.change for t in every])
        for k, axis in enumerate(AXES):
            col = change[:, k]
            out["actions"][axis] = {"mean": float(col.mean()), "std": float(col.std()),
                                    "min": float(col.min()), "max": float(col.max())}
    return out


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_dataset_statistics(path: Path, split: Mapping[str, Sequence[str]],
                            items_by_split: Mapping[str, Sequence[Any]], preview: tuple[Any, Any] | None) -> Path:
    """Split sizes, transitions per patient (coloured by split), action histograms, a frame pair."""
    plt = _pyplot()
    fig, axes = plt.subplots(3, 4, figsize=(16, 11))
    colours = {"train": "#1f77b4", "val": "#ff7f0e", "test": "#2ca02c"}
    ax = axes[0, 0]
    ax.bar(list(SPLITS), [len(items_by_split[s]) for s in SPLITS], color=[colours[s] for s in SPLITS])
    ax.set_title("Transitions per split (patients: " + ", ".join(f"{s} {len(split[s])}" for s in SPLITS) + ")")
    ax = axes[0, 1]
    per = [(t_split, p, sum(1 for t in items_by_split[t_split] if t.group == p)) for t_split in SPLITS
           for p in split[t_split]]
    ax.bar(range(len(per)), [n for _, _, n in per], color=[colours[s] for s, _, _ in per])
    ax.set_xticks(range(len(per)), [p for _, p, _ in per], rotation=60, fontsize=7)
    ax.set_title("Transitions per patient (no patient in two splits)")
    every = [t for s in SPLITS for t in items_by_split[s]]
    change = np.array([t.change for t in every]) if every else np.zeros((0, 6))
    for k, axis in enumerate(AXES):
        ax = axes[1 + k // 4, (k % 4) + (0 if k < 4 else 0)] if k < 4 else axes[2, k - 4]
        ax.hist(change[:, k], bins=20, color="#555555")
        ax.set_title(f"action {axis}")
    for ax, (title, frame) in zip((axes[0, 2], axes[0, 3]), zip(("ft1", "ft2"), preview or (None, None))):
        ax.axis("off")
        if frame is not None:
            ax.imshow(frame, cmap="gray")
            ax.set_title(f"sample {title}")
    for ax in axes[2, 2:]:
        ax.axis("off")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def plot_training_summary(path: Path, history: Mapping[int, Mapping[str, float]]) -> Path:
    """Main-task and total losses (train vs val), learning rate, component losses, val error per axis."""
    plt = _pyplot()
    epochs = sorted(history)
    fig, axes = plt.subplots(2, 3, figsize=(16, 8))

    def curve(ax, names, title):
        for name in names:
            ys = [history[e].get(name) for e in epochs]
            pts = [(e, y) for e, y in zip(epochs, ys) if y is not None]
            if pts:
                ax.plot(*zip(*pts), marker="o", ms=3, label=name, linestyle="--" if name.startswith("val") else "-")
        ax.set_title(title)
        ax.set_xlabel("epoch")
        if ax.lines:
            ax.legend(fontsize=7)

    curve(axes[0, 0], ["train/main_task_loss", "val/main_task_loss"], "Main task loss (SmoothL1)")
    curve(axes[0, 1], ["train/total_loss", "val/loss"], "Total loss")
    curve(axes[0, 2], ["lr"], "Learning rate")
    curve(axes[1, 0], ["train/latent_loss", "val/latent_loss"], "Latent loss")
    curve(axes[1, 1], ["train/t2_action_loss", "val/t2_action_loss"], "Auxiliary at2 loss")
    curve(axes[1, 2], [f"val/mae_{a}" for a in AXES], "Validation error per axis (MAE)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def plot_per_patient_errors(path: Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    """The mean absolute action error of each test patient (a categorical axis of patient names)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(5, 0.6 * len(rows) + 2), 3.5))
    names = [str(r["patient"]) for r in rows]
    ax.bar(range(len(rows)), [r["mae_mean"] for r in rows], color="#2ca02c")
    ax.set_xticks(range(len(rows)), names, rotation=30, ha="right")  # names, never read as numbers
    ax.set_ylabel("mean absolute action error")
    ax.set_title("Test error per patient")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
