"""Synthetic logos for the ``logos`` kind, one folder per source category name.

``simple_geometric``: one to three flat shapes; ``text_based``: strips of glyphs in PIL's
built-in font; ``gradients``: linear or radial colour ramps under a shape; ``complex`` and
``abstract``: many overlapping translucent shapes over texture. Shapes are drawn at twice the
size and downsampled, so edges are anti-aliased like real logos. Gradients and complex art
lose much at VTracer's default parameters, so the agent has something to learn; one flat image
is included to show how an unusable file is flagged. Seeded: the same options, the same files.
"""
from __future__ import annotations

import shutil
import string
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

__all__ = ["generate", "FOLDERS"]

FOLDERS = ("simple_geometric", "text_based", "gradients", "complex", "abstract")
_PALETTE = ((220, 40, 40), (30, 120, 220), (30, 160, 70), (240, 170, 20), (140, 60, 190), (20, 20, 20),
            (0, 170, 170), (230, 90, 150))


def _colour(rng: np.random.Generator) -> tuple[int, int, int]:
    return tuple(int(c) for c in _PALETTE[rng.integers(len(_PALETTE))])


def _shape(draw: ImageDraw.ImageDraw, rng: np.random.Generator, s: int, fill) -> None:
    kind = rng.integers(3)
    cx, cy = rng.uniform(0.25, 0.75, 2) * s
    r = rng.uniform(0.12, 0.3) * s
    if kind == 0:
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
    elif kind == 1:
        draw.rectangle((cx - r, cy - r * 0.7, cx + r, cy + r * 0.7), fill=fill)
    else:
        draw.polygon([(cx, cy - r), (cx + r, cy + r), (cx - r, cy + r)], fill=fill)


def _simple(rng: np.random.Generator, s: int) -> Image.Image:
    img = Image.new("RGB", (s, s), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    for _ in range(rng.integers(1, 4)):
        _shape(draw, rng, s, _colour(rng))
    return img


def _text(rng: np.random.Generator, s: int) -> Image.Image:
    bg = (255, 255, 255) if rng.random() < 0.7 else (240, 235, 220)
    img = Image.new("RGB", (s, s), bg)
    draw = ImageDraw.Draw(img)
    rows = int(rng.integers(1, 3))
    font = ImageFont.load_default(size=max(8, int(s / (2.2 * rows))))
    for row in range(rows):
        word = "".join(rng.choice(list(string.ascii_uppercase + string.digits), size=int(rng.integers(3, 6))))
        y = (row + 0.2) * s / rows
        draw.text((rng.uniform(0.02, 0.1) * s, y), word, fill=_colour(rng), font=font)
    return img


def _gradient(rng: np.random.Generator, s: int) -> Image.Image:
    a = np.array(_colour(rng), float)
    b = a
    while np.array_equal(a, b):  # two equal ends would make a flat, unusable image
        b = np.array(_colour(rng), float)
    yy, xx = np.mgrid[0:s, 0:s] / (s - 1)
    if rng.random() < 0.5:
        angle = rng.uniform(0, np.pi)
        t = (xx * np.cos(angle) + yy * np.sin(angle))
    else:
        t = np.hypot(xx - rng.uniform(0.3, 0.7), yy - rng.uniform(0.3, 0.7)) * 1.4
    t = (t - t.min()) / max(t.max() - t.min(), 1e-6)
    img = Image.fromarray((a + (b - a) * t[..., None]).clip(0, 255).astype(np.uint8), "RGB")
    if rng.random() < 0.6:
        _shape(ImageDraw.Draw(img), rng, s, (255, 255, 255))
    return img


def _complex(rng: np.random.Generator, s: int) -> Image.Image:
    base = rng.integers(120, 230, size=3)
    coarse = rng.normal(0, 30, size=(s // 8 + 1, s // 8 + 1, 3))
    tex = np.kron(coarse, np.ones((8, 8, 1)))[:s, :s]
    img = Image.fromarray(np.clip(base + tex, 0, 255).astype(np.uint8), "RGB").convert("RGBA")
    for _ in range(rng.integers(5, 10)):
        layer = Image.new("RGBA", (s, s), (0, 0, 0, 0))
        _shape(ImageDraw.Draw(layer), rng, s, (*_colour(rng), int(rng.integers(110, 220))))
        img = Image.alpha_composite(img, layer)
    return img.convert("RGB")


_DRAW = {"simple_geometric": _simple, "text_based": _text, "gradients": _gradient, "complex": _complex,
         "abstract": _complex}


def generate(dest: Path, *, count: int = 12, size: int = 64, seed: int = 0, blank: bool = True) -> Path:
    """Write ``count`` logos per category (``complex`` split over ``complex`` and ``abstract``)
    of ``size`` pixels into ``dest`` (replaced); return ``dest``."""
    count, size = int(count), int(size)
    if count < 1 or not 16 <= size <= 1024:
        raise ValueError("count must be at least 1 and size between 16 and 1024 pixels")
    dest = Path(dest)
    if dest.exists():
        shutil.rmtree(dest)
    rng = np.random.default_rng(seed)
    per_folder = {"simple_geometric": count, "text_based": count, "gradients": count,
                  "complex": count - count // 2, "abstract": count // 2}
    for folder, n in per_folder.items():
        (dest / folder).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            big = _DRAW[folder](rng, size * 2)
            big.resize((size, size), Image.Resampling.LANCZOS).save(dest / folder / f"{folder}_{i:03d}.png")
    if blank:
        Image.new("RGB", (size, size), (250, 250, 250)).save(dest / "simple_geometric" / "blank_flat.png")
    return dest
