"""Load a transitions dataset's frames and vectors into tensors, per patient split.

Frames are small (grayscale, ``image_size`` square), so a split is held in memory as uint8 and
batched by a plain ``TensorDataset``; every path is resolved inside the dataset root again at
load time (the folder may have changed since import).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import TensorDataset

from engine.safeio import inside, open_image

__all__ = ["Transition", "load_frame", "load_split", "normalisation"]


@dataclass(frozen=True)
class Transition:
    group: str
    ft1: str  # relative to the dataset root
    ft2: str
    change: tuple[float, ...]
    at2: tuple[float, ...]


def load_frame(path: Path, size: int) -> np.ndarray:
    """One frame as a ``size`` x ``size`` uint8 grayscale array (decoded-pixel cap applies)."""
    img = open_image(path, mode="L")
    if img.size != (size, size):
        img = img.resize((size, size), Image.BILINEAR)
    return np.asarray(img, dtype=np.uint8)


def load_split(root: Path, items: list[Transition], size: int) -> TensorDataset:
    """``(frame1, frame2, change, at2)`` tensors for ``items``."""
    cache: dict[str, np.ndarray] = {}

    def frame(rel: str) -> np.ndarray:
        if rel not in cache:
            cache[rel] = load_frame(inside(root, rel), size)
        return cache[rel]

    f1 = torch.from_numpy(np.stack([frame(t.ft1) for t in items])) if items else torch.zeros(0, size, size, dtype=torch.uint8)
    f2 = torch.from_numpy(np.stack([frame(t.ft2) for t in items])) if items else torch.zeros(0, size, size, dtype=torch.uint8)
    change = torch.tensor([t.change for t in items], dtype=torch.float32).reshape(-1, 6)
    at2 = torch.tensor([t.at2 for t in items], dtype=torch.float32).reshape(-1, 6)
    return TensorDataset(f1, f2, change, at2)


def normalisation(items: list[Transition]) -> dict[str, list[float]]:
    """Per-axis mean and std of the actions and ``at2`` poses (training split only)."""
    change = np.array([t.change for t in items], dtype=np.float64)
    at2 = np.array([t.at2 for t in items], dtype=np.float64)
    floor = 1e-3  # an axis that never moves keeps a finite scale

    def std(a: np.ndarray) -> list[float]:
        return [float(max(v, floor)) for v in a.std(axis=0)]

    return {"change_mean": [float(v) for v in change.mean(axis=0)], "change_std": std(change),
            "at2_mean": [float(v) for v in at2.mean(axis=0)], "at2_std": std(at2)}
