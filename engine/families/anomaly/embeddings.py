"""Embeddings in the database: computed once per (sample, backbone), batched, with progress.

Every anomaly run calls ``ensure_embeddings`` for its age group as its preparation phase, and
``jobs.embeddings`` runs it for a whole dataset as a job of its own; samples already embedded
are never embedded again.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
from PIL import Image

from db import queries
from db.session import session_scope
from engine.families.anomaly.backbone import feature_vector, load_backbone

__all__ = ["ensure_embeddings", "load_vectors"]


def ensure_embeddings(dataset_id: int, backbone: str, *, sample_ids: Iterable[int] | None = None,
                      batch_size: int = 32, device: str = "cpu",
                      progress: Callable[[int, int], None] | None = None,
                      should_stop: Callable[[], bool] | None = None) -> int:
    """Embed the dataset's samples (or only ``sample_ids``) that have no vector for ``backbone``
    yet; return how many were computed now (0 when all exist). ``should_stop`` is asked between
    batches; what is stored so far stays stored."""
    with session_scope() as s:
        ds = queries.get_dataset(session=s, dataset_id=dataset_id)
        if ds is None:
            raise LookupError(f"no dataset with id {dataset_id}")
        root = Path(ds.root)
        todo = [(smp.id, smp.path, smp.group_value)
                for smp in queries.samples_missing_embedding(session=s, dataset_id=dataset_id, backbone=backbone,
                                                             sample_ids=sample_ids)]
    if not todo:
        if progress:
            progress(0, 0)
        return 0
    model = load_backbone(backbone, device)
    done = 0
    for start in range(0, len(todo), batch_size):
        if should_stop and should_stop():
            break
        batch = todo[start:start + batch_size]
        images = []
        for _, rel, _ in batch:
            with Image.open(root / rel) as img:
                images.append(img.convert("RGB"))
        cls = model.embed(images)
        rows = []
        for (sid, _, age), vec in zip(batch, cls):
            full = feature_vector(vec, age)
            rows.append((sid, int(full.shape[0]), full.astype("<f4").tobytes()))
        with session_scope() as s:
            queries.store_embeddings(session=s, backbone=backbone, rows=rows)
        done += len(batch)
        if progress:
            progress(done, len(todo))
    return done


def load_vectors(sample_ids: list[int], backbone: str) -> np.ndarray:
    """The stored vectors of ``sample_ids``, in that order, as one float32 array."""
    with session_scope() as s:
        found = queries.embeddings_for_samples(session=s, sample_ids=sample_ids, backbone=backbone)
    missing = [i for i in sample_ids if i not in found]
    if missing:
        raise LookupError(f"{len(missing)} sample(s) have no {backbone!r} embedding (e.g. id {missing[0]})")
    return np.stack([np.frombuffer(found[i].vector, dtype="<f4") for i in sample_ids]).astype(np.float32)
