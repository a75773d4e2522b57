"""Rank a registered reid model's test gallery for one query (called on a worker by ``jobs.inference``).

``payload``: ``image`` (bytes of an uploaded person crop) or ``query_path`` (a query image of the
model's dataset, relative to its folder), and ``top_k`` (10); the scoring job hands in that folder
as ``model.dataset_root``. The gallery's features were stored in the artifact when the model was
registered, so a query costs one forward pass. For a dataset query the Market-1501 rule applies
(gallery images of the same person from the same camera are not candidates) and each match is
marked true or false.

Returns plain data: the top-k matches (rank, path, identity, camera, distance, match) and a
picture in the style of torchreid's ``visualize_ranked_results`` (query framed black, true
matches green, false red, unknown grey). It is drawn here with PIL rather than by torchreid,
whose version reads files with OpenCV straight from disk and writes one file per query; here
every image is read through ``engine.safeio``.
"""
from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from engine.checkpoints import load_checkpoint
from engine.families.reid.config import ReidConfig
from engine.families.reid.data import parse_name
from engine.families.reid.evaluation import distances
from engine.families.reid.loaders import test_transform
from engine.families.reid.trainer import build_model
from engine.families.reid.weights import ARTIFACT_KIND
from engine.safeio import UnsafeFile, inside, open_image

__all__ = ["predict", "load_model", "ranking_picture"]

TILE = (64, 128)  # width, height of each picture in the ranking strip
FRAME = {True: (40, 170, 60), False: (210, 40, 40), None: (150, 150, 150)}
MAX_TOP_K = 50


@lru_cache(maxsize=8)
def load_model(path: str, mtime: float) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The network of an artifact and its stored state (cached per file version)."""
    state = load_checkpoint(Path(path))
    if state.get("kind") != ARTIFACT_KIND:
        raise ValueError(f"{path} is not a reid model artifact")
    config = ReidConfig.model_validate(state["config"])
    net = build_model(config, int(state["num_classes"]))
    net.load_state_dict(state["model"])
    net.eval()
    return net, state


def _dataset_root(model: Any) -> Path:
    """The folder of the dataset the model was trained on, as the scoring job found it."""
    root = getattr(model, "dataset_root", None)
    if root is None:
        raise LookupError("the model's dataset no longer exists")
    return Path(root)


def _tile(img: Image.Image | None, colour: tuple[int, int, int], caption: str) -> Image.Image:
    w, h = TILE
    tile = Image.new("RGB", (w + 8, h + 20), (255, 255, 255))
    ImageDraw.Draw(tile).rectangle((0, 0, w + 7, h + 7), fill=colour)
    if img is not None:
        tile.paste(img.resize((w, h)), (4, 4))
    ImageDraw.Draw(tile).text((4, h + 8), caption, fill=(0, 0, 0), font=ImageFont.load_default())
    return tile


def ranking_picture(query: Image.Image, gallery: list[tuple[Image.Image | None, bool | None, str]]) -> bytes:
    """Query then its ranked gallery images, framed by match; PNG bytes."""
    tiles = [_tile(query, (0, 0, 0), "query")] + [_tile(img, FRAME[match], cap) for img, match, cap in gallery]
    gap = 12
    strip = Image.new("RGB", (sum(t.width for t in tiles) + gap, tiles[0].height), (255, 255, 255))
    x = 0
    for i, t in enumerate(tiles):
        strip.paste(t, (x, 0))
        x += t.width + (gap if i == 0 else 0)
    buf = io.BytesIO()
    strip.save(buf, format="PNG")
    return buf.getvalue()


def predict(model: Any, payload: dict[str, Any]) -> dict[str, Any]:
    path = Path(model.artifact_path)
    net, state = load_model(str(path), path.stat().st_mtime)
    config = ReidConfig.model_validate(state["config"])
    root = _dataset_root(model)
    top_k = max(1, min(int(payload.get("top_k", 10)), MAX_TOP_K))
    q_pid = q_cam = None
    if payload.get("query_path"):
        rel = str(payload["query_path"])
        name = parse_name(Path(rel).name)
        if name is not None and not name.flag:
            q_pid, q_cam = int(name.pid), name.camera - 1
        image = open_image(inside(root, rel))
    elif isinstance(payload.get("image"), (bytes, bytearray)):
        try:
            image = open_image(io.BytesIO(bytes(payload["image"])))
        except UnsafeFile as exc:
            raise ValueError(f"uploaded image: {exc}") from None
    else:
        raise ValueError("payload needs 'image' (bytes) or 'query_path'")
    with torch.no_grad():
        feature = net(test_transform(config.height, config.width)(image).unsqueeze(0)).float()
    g = state["gallery"]
    dist = distances(feature, g["features"], metric=config.dist_metric, normalize=config.normalize_feature)[0]
    pids, cams = g["pids"].numpy(), g["camids"].numpy()
    candidates = np.ones(len(dist), bool)
    if q_pid is not None:
        candidates &= ~((pids == q_pid) & (cams == q_cam))
    order = [int(i) for i in np.argsort(dist, kind="stable") if candidates[i]][:top_k]
    matches, shown = [], []
    for rank, i in enumerate(order, start=1):
        match = None if q_pid is None else bool(pids[i] == q_pid)
        rel = g["paths"][i]
        matches.append({"rank": rank, "path": rel, "identity": f"{int(pids[i]):04d}", "camera": int(cams[i]) + 1,
                        "distance": float(dist[i]), "match": match})
        try:
            img = open_image(inside(root, rel))
        except (UnsafeFile, OSError):
            img = None  # a gallery file gone since training still ranks; its tile stays blank
        shown.append((img, match, f"#{rank} {dist[i]:.2f}"))
    return {"model_version_id": model.id, "dataset": state["dataset"], "top_k": top_k,
            "query": {"identity": None if q_pid is None else f"{q_pid:04d}",
                      "camera": None if q_cam is None else q_cam + 1},
            "matches": matches, "gallery_size": int(len(dist)),
            "image_png": ranking_picture(image, shown)}
