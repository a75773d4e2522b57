"""Embeddings through an ``engine.stores.EmbeddingStore``: computed once per (sample, backbone),
batched, with progress.

Every anomaly run calls ``ensure_embeddings`` for its age group's samples as its preparation
phase, and ``jobs.embeddings`` runs it over a whole dataset as a job of its own; samples the
store already holds are never embedded again. Nothing here queries a database: the caller hands
in the store and the samples (anything with ``id``, ``path`` relative to ``root`` and
``group_value``, the age).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from engine.families.anomaly.backbone import feature_vector, load_backbone
from engine.stores import EmbeddingStore

__all__ = ["ensure_embeddings", "load_vectors"]


class _Images:
    """The drawings to embed as preprocessed tensors, one per item (what a DataLoader's workers
    decode in parallel with ``num_workers``)."""

    def __init__(self, model: Any, root: Path, samples: Sequence[Any]) -> None:
        self.model, self.root, self.samples = model, root, samples

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int):
        with Image.open(self.root / self.samples[i].path) as img:
            return self.model.preprocess([img])[0]


def ensure_embeddings(store: EmbeddingStore, backbone: str, samples: Sequence[Any], *, root: Path,
                      batch_size: int = 32, device: str = "cpu",
                      progress: Callable[[int, int], None] | None = None,
                      should_stop: Callable[[], bool] | None = None, num_workers: int = 0,
                      pin_memory: bool = False) -> int:
    """Embed those of ``samples`` that have no vector for ``backbone`` in ``store`` yet; return
    how many were computed now (0 when all exist). ``should_stop`` is asked between batches;
    what is stored so far stays stored. ``num_workers`` processes decode and resize the images
    (torch's DataLoader; 0: in this process), ``pin_memory`` pins the batches for a CUDA copy."""
    by_id = {smp.id: smp for smp in samples}
    todo = [by_id[i] for i in store.missing(backbone=backbone, sample_ids=sorted(by_id))]
    if not todo:
        if progress:
            progress(0, 0)
        return 0
    root = Path(root)
    model = load_backbone(backbone, device)
    from torch.utils.data import DataLoader

    loader = DataLoader(_Images(model, root, todo), batch_size=batch_size, shuffle=False, num_workers=num_workers,
                        pin_memory=pin_memory and str(device).startswith("cuda"))
    done = 0
    for start, pixels in zip(range(0, len(todo), batch_size), loader):
        if should_stop and should_stop():
            break
        batch = todo[start:start + batch_size]
        cls = model.embed_pixels(pixels)
        rows = []
        for smp, vec in zip(batch, cls):
            full = feature_vector(vec, smp.group_value)
            rows.append((smp.id, int(full.shape[0]), full.astype("<f4").tobytes()))
        store.put(backbone=backbone, rows=rows)
        done += len(batch)
        if progress:
            progress(done, len(todo))
    return done


def load_vectors(store: EmbeddingStore, backbone: str, sample_ids: Sequence[int]) -> np.ndarray:
    """The stored vectors of ``sample_ids``, in that order, as one float32 array."""
    found = store.get(backbone=backbone, sample_ids=sample_ids)
    missing = [i for i in sample_ids if i not in found]
    if missing:
        raise LookupError(f"{len(missing)} sample(s) have no {backbone!r} embedding (e.g. id {missing[0]})")
    return np.stack([np.frombuffer(found[i], dtype="<f4") for i in sample_ids]).astype(np.float32)
