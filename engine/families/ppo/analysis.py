"""Per-image quality analysis of a logo: sharpness, contrast, colours, complexity, size.

scikit-image does the measuring (Laplacian, Sobel); this module only decides what the numbers
mean for vectorisation: which images are unusable (and why), and the feature vector the agent
observes. The same function runs at import (results cached in ``Sample.meta``), in the
environment and in ``predict``, so an uploaded image is seen exactly like a training one.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["ANALYSIS_VERSION", "MIN_SIDE", "analyse", "features", "FEATURE_NAMES", "unusable_reason", "quality_flags"]

ANALYSIS_VERSION = 1  # bump when the measures change: cached analyses of an older version are redone
MIN_SIDE = 16  # pixels; smaller images cannot be judged by SSIM's 7-pixel window
BLANK_CONTRAST = 0.01  # grey-level standard deviation (0-1) below which an image is one flat colour
BLURRY_SHARPNESS = 1e-4  # Laplacian variance below which an image is flagged blurry (still usable)
EDGE_LEVEL = 0.1  # Sobel magnitude (0-1 grey) that counts as an edge pixel
FEATURE_NAMES = ("sharpness", "contrast", "colours", "complexity", "size")


def analyse(rgb: np.ndarray) -> dict[str, Any]:
    """Measure an ``HxWx3`` uint8 image; returns plain numbers (JSON-ready)."""
    from skimage.color import rgb2gray
    from skimage.filters import laplace, sobel

    h, w = int(rgb.shape[0]), int(rgb.shape[1])
    grey = rgb2gray(rgb) if rgb.ndim == 3 else rgb.astype(float) / 255.0
    colours = int(np.unique(rgb.reshape(-1, rgb.shape[-1]) if rgb.ndim == 3 else rgb.reshape(-1), axis=0).shape[0])
    return {"width": w, "height": h,
            "sharpness": float(laplace(grey).var()),
            "contrast": float(grey.std()),
            "colours": colours,
            "complexity": float((sobel(grey) > EDGE_LEVEL).mean()),
            "analysis_version": ANALYSIS_VERSION}


def unusable_reason(a: dict[str, Any]) -> str | None:
    """Why an analysed image cannot train the agent, or None when it can."""
    if min(a["width"], a["height"]) < MIN_SIDE:
        return f"too small ({a['width']}x{a['height']} px; at least {MIN_SIDE} px per side)"
    if a["contrast"] < BLANK_CONTRAST or a["colours"] < 2:
        return "blank: a single flat colour, nothing to vectorise"
    return None


def quality_flags(a: dict[str, Any]) -> list[str]:
    """Warnings that still allow training."""
    return ["blurry"] if a["sharpness"] < BLURRY_SHARPNESS else []


def features(a: dict[str, Any]) -> list[float]:
    """The analysis as numbers in [0, 1] (``FEATURE_NAMES`` order), for the agent's observation."""
    return [
        1.0 - math.exp(-50.0 * a["sharpness"]),
        min(a["contrast"] * 2.0, 1.0),
        min(math.log2(max(a["colours"], 1)) / 16.0, 1.0),
        min(a["complexity"] * 2.0, 1.0),
        min(math.log2(max(a["width"] * a["height"], 1)) / 24.0, 1.0),
    ]
