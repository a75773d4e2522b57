"""Inference on a registered model, run by a worker so pages never load torch.

A family supplies ``engine/families/<key>/predict.py`` with
``predict(model: ModelVersionRef, payload: dict) -> dict`` (plain data in and out; images as
bytes). Pages call ``jobs.api.request_prediction`` which enqueues ``predict_job`` on the high
queue and waits for its result.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from db.models import ModelVersion
from db.session import session_scope
from engine.trust import verify_recorded


@dataclass(frozen=True)
class ModelVersionRef:
    id: int
    family: str
    task: str | None
    scope: str
    artifact_path: Path
    threshold: float | None
    metrics: dict[str, Any]


def predict_job(model_version_id: int, payload: dict[str, Any]) -> dict[str, Any]:
    with session_scope() as s:
        mv = s.get(ModelVersion, model_version_id)
        if mv is None:
            raise LookupError(f"no model version with id {model_version_id}")
        # a registered artifact loads only while it still has the digest recorded at registration
        artifact = verify_recorded(mv.artifact_path, mv.sha256, what=f"model version {mv.id} artifact")
        ref = ModelVersionRef(id=mv.id, family=mv.family, task=mv.task, scope=mv.scope,
                              artifact_path=artifact, threshold=mv.threshold, metrics=dict(mv.metrics))
    module = importlib.import_module(f"engine.families.{ref.family}.predict")
    return module.predict(ref, payload)
