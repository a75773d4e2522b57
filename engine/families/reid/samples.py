"""Synthetic pedestrians for the ``market1501`` kind: a small Market-1501 folder made from a seed.

An identity is carried by its clothes: shirt colour and pattern (solid, stripes, checks), trouser
colour, hair colour and whether it carries a bag. Each camera sees people differently: its own
background, brightness, framing scale and vertical crop, plus per-image pose, position and noise,
so a model has to learn the clothes rather than the camera. As in the real dataset, train and
test identities are disjoint, each query has gallery images from other cameras, and the gallery
holds a few distractors (``0000``) and junk boxes (``-1``). Drawn with PIL and numpy: no download.
"""
from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

__all__ = ["generate", "SHIRTS", "PATTERNS"]

SHIRTS = ((220, 30, 30), (30, 140, 40), (40, 70, 220), (240, 200, 30), (150, 40, 190), (250, 130, 20),
          (20, 190, 200), (240, 240, 240), (30, 30, 30), (240, 120, 180))
PATTERNS = ("solid", "hstripes", "vstripes", "checks")
TROUSERS = ((25, 25, 60), (90, 60, 30), (130, 130, 130), (20, 20, 20), (180, 160, 110), (60, 90, 60))
HAIR = ((20, 15, 10), (110, 70, 30), (200, 170, 90))
# per camera: background base colour, brightness, person height as a share of the frame, vertical offset
CAMERAS = (((120, 120, 120), 1.0, 0.92, 0.02), ((90, 130, 80), 0.7, 0.78, 0.10), ((150, 90, 70), 1.3, 0.85, -0.04),
           ((80, 100, 150), 0.85, 0.95, 0.0), ((160, 150, 120), 1.15, 0.8, 0.06), ((60, 60, 70), 0.6, 0.88, 0.03))


def _identities(rng: np.random.Generator, n: int) -> list[tuple[int, int, int, int, int, bool]]:
    combos = list(itertools.product(range(len(SHIRTS)), range(len(PATTERNS)), range(len(TROUSERS))))
    if n > len(combos):
        raise ValueError(f"at most {len(combos)} distinct identities can be generated")
    picks = rng.choice(len(combos), size=n, replace=False)
    out = []
    for i in picks:
        shirt, pattern, trousers = combos[int(i)]
        second = (shirt + 1 + int(rng.integers(len(SHIRTS) - 1))) % len(SHIRTS)
        out.append((shirt, pattern, trousers, second, int(rng.integers(len(HAIR))), bool(rng.random() < 0.4)))
    return out


def _person(look: tuple, camera: int, rng: np.random.Generator, height: int, width: int) -> Image.Image:
    """One crop of ``look`` as ``camera`` sees it."""
    shirt, pattern_index, trousers, second, hair, bag = look
    pattern = PATTERNS[pattern_index]
    bg, bright, share, dy = CAMERAS[camera]
    H, W = height, width
    base = np.array(bg, float) + rng.normal(0, 12, 3)
    yy = np.linspace(0, 1, H)[:, None, None]
    canvas = base + 30 * (yy - 0.5) + rng.normal(0, 8, (H, W, 3))
    img = Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8), "RGB")
    d = ImageDraw.Draw(img)
    ph = H * share * rng.uniform(0.93, 1.05)  # person height in pixels
    cx = W / 2 + rng.uniform(-0.12, 0.12) * W
    top = H * (0.04 + dy) + rng.uniform(-0.03, 0.03) * H
    u = ph / 8  # head = one eighth of the body
    bw = u * 2.2  # shoulder width
    d.ellipse((cx - u * 0.45, top, cx + u * 0.45, top + u), fill=(225, 185, 150))
    d.chord((cx - u * 0.5, top - u * 0.05, cx + u * 0.5, top + u * 0.6), 180, 360, fill=HAIR[hair])
    t0, t1 = top + u * 1.05, top + u * 4.1
    d.rectangle((cx - bw / 2, t0, cx + bw / 2, t1), fill=SHIRTS[shirt])
    arm = u * 0.45
    swing = rng.uniform(-0.3, 0.3) * u
    for side in (-1, 1):
        x = cx + side * (bw / 2 + arm / 2)
        d.line((x, t0 + u * 0.2, x + side * swing, t1 - u * 0.2), fill=SHIRTS[shirt], width=max(1, int(arm)))
    step = max(2, int(u * 0.6))
    if pattern == "hstripes":
        for y in np.arange(t0 + step / 2, t1, step * 2):
            d.rectangle((cx - bw / 2, y, cx + bw / 2, y + step), fill=SHIRTS[second])
    elif pattern == "vstripes":
        for x in np.arange(cx - bw / 2 + step / 2, cx + bw / 2, step * 2):
            d.rectangle((x, t0, x + step, t1), fill=SHIRTS[second])
    elif pattern == "checks":
        for i, y in enumerate(np.arange(t0, t1, step)):
            for j, x in enumerate(np.arange(cx - bw / 2, cx + bw / 2, step)):
                if (i + j) % 2:
                    d.rectangle((x, y, min(x + step, cx + bw / 2), min(y + step, t1)), fill=SHIRTS[second])
    spread = rng.uniform(0.05, 0.45) * u
    leg = u * 0.8
    for side in (-1, 1):
        x = cx + side * (bw / 4)
        d.polygon([(x - leg / 2, t1), (x + leg / 2, t1), (x + leg / 2 + side * spread, top + ph),
                   (x - leg / 2 + side * spread, top + ph)], fill=TROUSERS[trousers])
    if bag:
        bx = cx + bw / 2
        d.rectangle((bx, t0 + u * 1.5, bx + u * 0.9, t0 + u * 2.8), fill=(100, 60, 20))
    if rng.random() < 0.5:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    arr = np.asarray(img, float) * bright * rng.uniform(0.9, 1.1) + rng.normal(0, 5, (H, W, 3))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def _junk(rng: np.random.Generator, height: int, width: int) -> Image.Image:
    """A false detection: background and a sliver of someone, as Market-1501's ``-1`` boxes."""
    arr = rng.uniform(40, 200, 3) + rng.normal(0, 25, (height, width, 3))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def generate(dest: Path, *, identities: int = 48, images_per_identity: int = 8, cameras: int = 4,
             height: int = 96, width: int = 48, distractors: int = 6, junk: int = 4, seed: int = 0,
             overwrite: bool = True) -> Path:
    """Write a Market-1501 folder with ``identities`` people (half train, half test) into ``dest``.

    Train identities get ``images_per_identity`` images over at least two cameras; each test
    identity gets a query from each of two cameras and ``images_per_identity`` gallery images
    spread over the cameras, so every query has matches from other cameras.
    """
    if not 2 <= cameras <= len(CAMERAS):
        raise ValueError(f"cameras must be between 2 and {len(CAMERAS)}")
    if identities < 4 or images_per_identity < 2:
        raise ValueError("need at least 4 identities and 2 images per identity")
    dest = Path(dest)
    if dest.exists() and overwrite:
        shutil.rmtree(dest)
    folders = {name: dest / name for name in ("bounding_box_train", "bounding_box_test", "query")}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    looks = _identities(rng, identities + distractors)
    pids = sorted(int(p) for p in rng.choice(np.arange(1, 1502), size=identities, replace=False))
    frame = iter(range(1, 10**6))

    def save(folder: str, pid: str, cam: int, img: Image.Image, box: int) -> None:
        name = f"{pid}_c{cam + 1}s{int(rng.integers(1, 7))}_{next(frame) * 25:06d}_{box:02d}.jpg"
        img.save(folders[folder] / name, quality=92)

    def shots(look, pid: str, folder: str, cams: list[int]) -> None:
        for k, cam in enumerate(cams):
            save(folder, pid, cam, _person(look, cam, rng, height, width), 1 + k % 6)

    for i, pid in enumerate(pids):
        look, label = looks[i], f"{pid:04d}"
        order = [int(c) for c in rng.permutation(cameras)]
        if i % 2 == 0:  # train identity
            shots(look, label, "bounding_box_train", [order[k % cameras] for k in range(images_per_identity)])
            continue
        for qcam in order[:2]:  # Market-1501 has one query per camera that saw the person
            save("query", label, qcam, _person(look, qcam, rng, height, width), 0)
        gallery = [order[k % cameras] for k in range(max(images_per_identity, 2))]
        shots(look, label, "bounding_box_test", gallery)
    for look in looks[identities:]:
        cam = int(rng.integers(cameras))
        save("bounding_box_test", "0000", cam, _person(look, cam, rng, height, width), 1)
    for _ in range(junk):
        save("bounding_box_test", "-1", int(rng.integers(cameras)), _junk(rng, height, width), 1)
    return dest
