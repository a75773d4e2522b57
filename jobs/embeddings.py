"""Embedding job: compute the missing ViT embeddings of a ``drawings`` dataset on a worker.

Progress goes to the RQ job's meta (``done``/``total``), which ``jobs.api.embedding_status``
reads; anomaly runs also embed their own age group as their preparation phase, so this job is
an optional head start (e.g. right after an import).
"""
from __future__ import annotations

from typing import Any

__all__ = ["embed_dataset_job"]


def embed_dataset_job(dataset_id: int, backbone: str, batch_size: int = 32, device: str = "auto") -> dict[str, Any]:
    from rq import get_current_job

    from db import queries
    from db.session import session_scope
    from engine.devices import resolve_device
    from engine.families.anomaly.embeddings import ensure_embeddings
    from jobs.inputs import DbEmbeddingStore, dataset_ref

    job = get_current_job()

    def progress(done: int, total: int) -> None:
        if job is not None:
            job.meta.update(done=done, total=total)
            job.save_meta()

    dataset = dataset_ref(dataset_id)
    computed = ensure_embeddings(DbEmbeddingStore(), backbone, dataset.samples, root=dataset.root,
                                 batch_size=batch_size, device=resolve_device(device), progress=progress)
    with session_scope() as s:
        stored = queries.count_embeddings(session=s, dataset_id=dataset_id, backbone=backbone)
    return {"dataset_id": dataset_id, "backbone": backbone, "computed": computed, "stored": stored}
