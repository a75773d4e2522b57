"""Synthetic children's drawings for the demo and the tests.

Houses, people, trees and suns in black crayon on white paper; what a child of a given age
draws grows more complete and steadier with age (more parts, less wobble, more objects).
Planted anomalies are dense multicoloured scribbles over the whole sheet, labelled
``expert_label=anomalous``, so a model of normal drawings should find them.
"""
from __future__ import annotations

import csv
import math
import random
from pathlib import Path

from PIL import Image, ImageDraw

__all__ = ["generate", "SUBJECTS", "METADATA_NAME"]

SUBJECTS = ("house", "person", "tree", "sun")
METADATA_NAME = "metadata.csv"
FIELDS = ("filename", "age_years", "subject", "expert_label")


class _Crayon:
    """Wobbly strokes: ``wobble`` (pixels) shrinks as the child gets older."""

    def __init__(self, draw: ImageDraw.ImageDraw, rng: random.Random, wobble: float, width: int) -> None:
        self.draw, self.rng, self.wobble, self.width = draw, rng, wobble, width

    def _j(self, x: float, y: float) -> tuple[float, float]:
        return x + self.rng.gauss(0, self.wobble), y + self.rng.gauss(0, self.wobble)

    def line(self, pts: list[tuple[float, float]], fill=(20, 20, 20)) -> None:
        self.draw.line([self._j(*p) for p in pts], fill=fill, width=self.width, joint="curve")

    def box(self, x0: float, y0: float, x1: float, y1: float) -> None:
        self.line([(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)])

    def circle(self, cx: float, cy: float, r: float, n: int = 14) -> None:
        self.line([(cx + r * math.cos(2 * math.pi * k / n), cy + r * math.sin(2 * math.pi * k / n))
                   for k in range(n + 1)])


def _house(c: _Crayon, x: float, y: float, s: float, detail: float) -> None:
    c.box(x, y, x + s, y + s)
    c.line([(x, y), (x + s / 2, y - s * 0.6), (x + s, y)])
    if detail > 0.3:
        c.box(x + s * 0.4, y + s * 0.55, x + s * 0.6, y + s)  # door
    if detail > 0.55:
        c.box(x + s * 0.1, y + s * 0.2, x + s * 0.3, y + s * 0.4)
        c.box(x + s * 0.7, y + s * 0.2, x + s * 0.9, y + s * 0.4)
    if detail > 0.8:
        c.box(x + s * 0.7, y - s * 0.45, x + s * 0.82, y - s * 0.15)  # chimney


def _person(c: _Crayon, x: float, y: float, s: float, detail: float) -> None:
    cx = x + s / 2
    c.circle(cx, y + s * 0.15, s * 0.15)
    if detail > 0.35:  # a body instead of a 'tadpole' figure
        c.line([(cx, y + s * 0.3), (cx, y + s * 0.7)])
        c.line([(cx, y + s * 0.7), (cx - s * 0.2, y + s)])
        c.line([(cx, y + s * 0.7), (cx + s * 0.2, y + s)])
    else:
        c.line([(cx - s * 0.1, y + s * 0.3), (cx - s * 0.15, y + s * 0.8)])
        c.line([(cx + s * 0.1, y + s * 0.3), (cx + s * 0.15, y + s * 0.8)])
    c.line([(cx - s * 0.3, y + s * 0.45), (cx + s * 0.3, y + s * 0.45)])
    if detail > 0.6:
        c.line([(cx - s * 0.05, y + s * 0.12), (cx - s * 0.05, y + s * 0.13)])
        c.line([(cx + s * 0.05, y + s * 0.12), (cx + s * 0.05, y + s * 0.13)])
        c.line([(cx - s * 0.06, y + s * 0.2), (cx + s * 0.06, y + s * 0.2)])
    if detail > 0.8:
        c.box(cx - s * 0.12, y + s * 0.32, cx + s * 0.12, y + s * 0.6)


def _tree(c: _Crayon, x: float, y: float, s: float, detail: float) -> None:
    cx = x + s / 2
    c.line([(cx - s * 0.08, y + s), (cx - s * 0.08, y + s * 0.5)])
    c.line([(cx + s * 0.08, y + s), (cx + s * 0.08, y + s * 0.5)])
    c.circle(cx, y + s * 0.3, s * 0.3)
    if detail > 0.5:
        c.line([(cx, y + s * 0.55), (cx - s * 0.2, y + s * 0.35)])
        c.line([(cx, y + s * 0.5), (cx + s * 0.2, y + s * 0.3)])
    if detail > 0.75:
        for k in range(3):
            c.circle(cx - s * 0.15 + k * s * 0.15, y + s * 0.25, s * 0.04, n=6)


def _sun(c: _Crayon, x: float, y: float, s: float, detail: float) -> None:
    cx, cy, r = x + s / 2, y + s / 2, s * 0.2
    c.circle(cx, cy, r)
    rays = 4 + int(detail * 8)
    for k in range(rays):
        a = 2 * math.pi * k / rays
        c.line([(cx + r * 1.2 * math.cos(a), cy + r * 1.2 * math.sin(a)),
                (cx + r * 2.0 * math.cos(a), cy + r * 2.0 * math.sin(a))])


_DRAW = {"house": _house, "person": _person, "tree": _tree, "sun": _sun}


def _drawing(rng: random.Random, subject: str, age: float, size: int) -> Image.Image:
    img = Image.new("RGB", (size, size), "white")
    maturity = min(max((age - 3.0) / 9.0, 0.0), 1.0)  # 0 at 3 years, 1 at 12
    detail = min(1.0, max(0.0, maturity + rng.uniform(-0.15, 0.15)))
    c = _Crayon(ImageDraw.Draw(img), rng, wobble=size * (0.035 - 0.028 * maturity), width=max(1, size // 64))
    s = size * rng.uniform(0.45, 0.6)
    x, y = rng.uniform(0.05, 0.95 - s / size) * size, rng.uniform(0.2, 0.95 - s / size) * size
    _DRAW[subject](c, x, y, s, detail)
    if maturity > 0.4 and rng.random() < maturity:  # older children add a second object and a ground line
        extra = rng.choice([k for k in SUBJECTS if k != subject])
        s2 = size * 0.25
        _DRAW[extra](c, rng.uniform(0.02, 0.7) * size, rng.uniform(0.02, 0.25) * size, s2, detail * 0.7)
    if maturity > 0.6:
        c.line([(0, size * 0.97), (size, size * 0.97)])
    return img


def _scribble(rng: random.Random, size: int) -> Image.Image:
    img = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(img)
    for _ in range(rng.randint(50, 90)):
        colour = tuple(rng.randint(0, 255) for _ in range(3))
        pts = [(rng.uniform(0, size), rng.uniform(0, size)) for _ in range(rng.randint(3, 8))]
        draw.line(pts, fill=colour, width=rng.randint(2, max(3, size // 24)))
    return img


def generate(dest: Path, count: int = 300, seed: int = 0, anomaly_fraction: float = 0.08, size: int = 128,
             age_min: float = 3.0, age_max: float = 12.0) -> Path:
    """Write ``count`` drawings under ``dest/images`` and ``dest/metadata.csv``; return ``dest``.

    Ages are uniform in ``[age_min, age_max)`` (one decimal); about ``anomaly_fraction`` of the
    drawings are planted scribbles labelled anomalous, spread over the ages.
    """
    dest = Path(dest)
    (dest / "images").mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    n_anomalies = round(count * anomaly_fraction)
    anomalous = set(rng.sample(range(count), n_anomalies)) if n_anomalies else set()
    rows = []
    for i in range(count):
        age = round(rng.uniform(age_min, age_max - 0.1), 1)
        subject = SUBJECTS[i % len(SUBJECTS)]
        if i in anomalous:
            img, label = _scribble(rng, size), "anomalous"
        else:
            img, label = _drawing(rng, subject, age, size), "normal"
        name = f"images/drawing_{i:04d}.png"
        img.save(dest / name)
        rows.append({"filename": name, "age_years": age, "subject": subject, "expert_label": label})
    with open(dest / METADATA_NAME, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    return dest
