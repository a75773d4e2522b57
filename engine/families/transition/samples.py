"""Synthetic probe sweeps: frame pairs rendered from known 6-DoF poses, one folder per patient.

Each patient has its own "anatomy": a few Gaussian blobs and a ring at random places. A pose
views it through a simple 2-D camera model: x and y (mm) translate the view, z (mm) zooms,
roll (degrees) rotates it in plane, pitch and yaw (degrees) tilt the imaging plane about its
horizontal and vertical axes (perspective: one edge of the view foreshortens against the other).
Tilts are rendered as perspective, not as shears: in-plane rotation plus two shears would be
three parameters for two degrees of freedom of the image, and roll, pitch and yaw could not be
told apart from the frames.
A record holds two frames, at pose ``at1`` and at ``at2 = at1 + action_change``, so the action
is fully determined by how the second frame moved against the first and a model can learn it;
different patients look different, so a per-patient split really tests generalisation.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from PIL import Image

from engine.families.transition.data import DATASET_FILE

__all__ = ["generate", "render", "POSE_RANGE", "ACTION_RANGE"]

POSE_RANGE = (8.0, 8.0, 5.0, 5.0, 3.0, 3.0)  # +/- per axis of at1: mm, mm, mm, deg, deg, deg
ACTION_RANGE = (6.0, 6.0, 6.0, 12.0, 10.0, 10.0)  # +/- per axis of the action between the frames
MM_PER_UNIT = 20.0  # scene units are [-1, 1]; 20 mm moves the view by one unit
ZOOM_MM = 40.0  # z of +40 mm shows e times more of the scene
TILT = 1.5  # perspective strength: a 10 degree tilt makes one edge of the view about 50% larger than the other


def _template() -> dict[str, np.ndarray]:
    """The anatomy every patient shares (fixed seed): a chamber ring and a few structures."""
    rng = np.random.default_rng(20240513)
    n = 7
    return {"centre": rng.uniform(-1.2, 1.2, size=(n, 2)), "sigma": rng.uniform(0.12, 0.35, size=n),
            "amp": rng.uniform(0.5, 1.0, size=n) * rng.choice([-1, 1], size=n, p=[0.3, 0.7]),
            "ring": np.array([0.0, 0.0, 0.5])}


def _anatomy(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One patient: the shared template with its own positions, sizes and contrasts."""
    t = _template()
    n = len(t["sigma"])
    return {"centre": t["centre"] + rng.normal(0, 0.15, size=(n, 2)),
            "sigma": t["sigma"] * rng.uniform(0.8, 1.25, size=n),
            "amp": t["amp"] * rng.uniform(0.6, 1.4, size=n),
            "ring": t["ring"] + np.array([*rng.normal(0, 0.1, size=2), rng.uniform(-0.1, 0.1)])}


def render(anatomy: dict[str, np.ndarray], pose, size: int) -> np.ndarray:
    """The ``size`` x ``size`` grayscale frame (uint8) seen at ``pose``."""
    x, y, z, roll, pitch, yaw = (float(v) for v in pose)
    lin = np.linspace(-1, 1, size)
    u, v = np.meshgrid(lin, lin)
    w = 1 + TILT * (math.sin(math.radians(yaw)) * u + math.sin(math.radians(pitch)) * v)  # > 0.3 within the ranges
    su, sv = u / w, v / w
    c, s = math.cos(math.radians(roll)), math.sin(math.radians(roll))
    scale = math.exp(z / ZOOM_MM)
    px = scale * (c * su - s * sv) + x / MM_PER_UNIT
    py = scale * (s * su + c * sv) + y / MM_PER_UNIT
    img = np.zeros_like(px)
    for (cx, cy), sigma, amp in zip(anatomy["centre"], anatomy["sigma"], anatomy["amp"]):
        img += amp * np.exp(-((px - cx) ** 2 + (py - cy) ** 2) / (2 * sigma ** 2))
    rx, ry, radius = anatomy["ring"]
    img += 0.8 * np.exp(-((np.hypot(px - rx, py - ry) - radius) ** 2) / (2 * 0.05 ** 2))
    img = (img - img.min()) / (np.ptp(img) + 1e-6)
    return (img * 255).astype(np.uint8)


def generate(dest: Path, groups: int = 8, per_group: int = 40, size: int = 32, seed: int = 0,
             noise: float = 4.0) -> Path:
    """Write ``groups`` patient folders of ``per_group`` transitions each under ``dest``; return ``dest``."""
    dest = Path(dest)
    rng = np.random.default_rng(seed)
    pose_range, action_range = np.array(POSE_RANGE), np.array(ACTION_RANGE)
    for g in range(int(groups)):
        folder = dest / f"patient_{g + 1:02d}"
        (folder / "ft1").mkdir(parents=True, exist_ok=True)
        (folder / "ft2").mkdir(parents=True, exist_ok=True)
        anatomy = _anatomy(rng)
        records = []
        for i in range(int(per_group)):
            at1 = rng.uniform(-pose_range, pose_range)
            change = rng.uniform(-action_range, action_range)
            at2 = at1 + change
            names = (f"ft1/{i:04d}.png", f"ft2/{i:04d}.png")
            for name, pose in zip(names, (at1, at2)):
                frame = render(anatomy, pose, size).astype(np.float32) + rng.normal(0, noise, (size, size))
                Image.fromarray(np.clip(frame, 0, 255).astype(np.uint8), mode="L").save(folder / name)
            records.append({"ft1_image_path": names[0], "ft2_image_path": names[1],
                            "at1_6dof": [round(float(v), 4) for v in at1],
                            "action_change_6dof": [round(float(v), 4) for v in change],
                            "at2_6dof": [round(float(a) + float(c), 4) for a, c in
                                         zip(np.round(at1, 4), np.round(change, 4))]})
        (folder / DATASET_FILE).write_text(json.dumps(records, indent=1))
    return dest
