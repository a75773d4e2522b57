"""Synthetic sample data for the ``yolo`` kind: shapes on textured backgrounds.

Detect and segment images carry one to three shapes with their exact boxes or polygons;
classify images hold one large shape, filed under its class folder. Everything is drawn with
PIL and numpy from a seed, so a dataset is reproducible and needs no download.
"""
from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import yaml
from PIL import Image, ImageDraw

CLASSES = ("circle", "square", "triangle")
SPLITS = (("train", 0.7), ("val", 0.2), ("test", 0.1))
_COLORS = ((220, 40, 40), (40, 160, 60), (40, 80, 220), (230, 180, 30), (160, 50, 200))


def _background(rng: np.random.Generator, size: int) -> Image.Image:
    """Smooth noise plus stripes, so the model cannot key on a flat colour."""
    base = rng.integers(60, 200, size=3)
    coarse = rng.normal(0, 25, size=(size // 8 + 1, size // 8 + 1, 3))
    noise = np.kron(coarse, np.ones((8, 8, 1)))[:size, :size]
    yy, xx = np.mgrid[0:size, 0:size]
    stripes = 12 * np.sin((xx * rng.uniform(0.1, 0.4) + yy * rng.uniform(0.1, 0.4)))[..., None]
    arr = np.clip(base + noise + stripes + rng.normal(0, 6, size=(size, size, 3)), 0, 255).astype(np.uint8)
    return Image.fromarray(arr, "RGB")


def _polygon(shape: str, cx: float, cy: float, r: float, angle: float) -> list[tuple[float, float]]:
    n = {"circle": 24, "square": 4, "triangle": 3}[shape]
    start = angle + (math.pi / 4 if shape == "square" else -math.pi / 2)
    return [(cx + r * math.cos(start + 2 * math.pi * k / n), cy + r * math.sin(start + 2 * math.pi * k / n))
            for k in range(n)]


def _draw_shape(img: Image.Image, rng: np.random.Generator, shape: str, cx: float, cy: float, r: float) -> list:
    pts = _polygon(shape, cx, cy, r, float(rng.uniform(0, math.pi / 6)))
    color = tuple(int(c) for c in _COLORS[int(rng.integers(len(_COLORS)))])
    ImageDraw.Draw(img).polygon(pts, fill=color, outline=(20, 20, 20))
    return pts


def _split_names(count: int) -> list[str]:
    out: list[str] = []
    for name, share in SPLITS:
        out += [name] * max(1, round(count * share))
    return out[:count] if len(out) > count else out + ["train"] * (count - len(out))


def generate(dest: Path, *, task: str = "detect", count: int = 300, size: int = 96, seed: int = 0,
             overwrite: bool = True) -> Path:
    """Write ``count`` images of a ``task`` dataset (detect, segment, classify) into ``dest``."""
    if task not in ("detect", "segment", "classify"):
        raise ValueError(f"unknown task {task!r}; choose detect, segment or classify")
    dest = Path(dest)
    if dest.exists() and overwrite:
        shutil.rmtree(dest)
    dest.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i, split in enumerate(_split_names(int(count))):
        img = _background(rng, size)
        if task == "classify":
            cls = i % len(CLASSES)
            r = size * rng.uniform(0.25, 0.4)
            c = rng.uniform(r, size - r, size=2)
            _draw_shape(img, rng, CLASSES[cls], c[0], c[1], r)
            out = dest / split / CLASSES[cls] / f"{i:05d}.png"
            out.parent.mkdir(parents=True, exist_ok=True)
            img.save(out)
            continue
        lines = []
        for _ in range(int(rng.integers(1, 4))):
            cls = int(rng.integers(len(CLASSES)))
            r = size * rng.uniform(0.1, 0.22)
            c = rng.uniform(r + 1, size - r - 1, size=2)
            pts = _draw_shape(img, rng, CLASSES[cls], c[0], c[1], r)
            xs, ys = [p[0] / size for p in pts], [p[1] / size for p in pts]
            if task == "segment":
                coords = " ".join(f"{x:.6f} {y:.6f}" for x, y in zip(xs, ys))
                lines.append(f"{cls} {coords}")
            else:
                x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
                lines.append(f"{cls} {(x0 + x1) / 2:.6f} {(y0 + y1) / 2:.6f} {x1 - x0:.6f} {y1 - y0:.6f}")
        (dest / "images" / split).mkdir(parents=True, exist_ok=True)
        (dest / "labels" / split).mkdir(parents=True, exist_ok=True)
        img.save(dest / "images" / split / f"{i:05d}.png")
        (dest / "labels" / split / f"{i:05d}.txt").write_text("\n".join(lines) + "\n")
    if task != "classify":
        data = {"train": "images/train", "val": "images/val", "test": "images/test",
                "names": dict(enumerate(CLASSES))}
        (dest / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return dest
