"""Inference on a registered model, run by a worker so pages never load torch.

A family supplies ``engine/families/<key>/predict.py`` (or the module its ``predict_path`` names) with
``predict(model: ModelVersionRef, payload: dict) -> dict`` (plain data in and out; images as
bytes) and, optionally, ``load(model: ModelVersionRef) -> object``: what ``load`` returns is kept
in memory and handed to ``predict`` as ``model.loaded``. Pages call
``jobs.api.request_prediction``, which enqueues ``predict_job`` on the scoring queue; the scoring
worker runs jobs in its own process, so the models kept here survive between predictions.

The cache is keyed by model version id and recorded sha256 and bounded (``TRAINYARD_SCORING_MODELS``,
least recently used out first). A model's file is hashed against its record when it is first
loaded; before every reuse its size and modification time must still be those it had then, and
any change means a full sha256 check again.
"""
from __future__ import annotations

import importlib
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from db import queries
from db.models import ModelVersion
from db.session import session_scope
from engine.trust import verify_recorded
from jobs import wire
from settings import get_settings

# (model version id, sha256) → (file signature when verified, ModelVersionRef with ``loaded``)
_CACHE: OrderedDict[tuple[int, str], tuple[tuple[int, int], "ModelVersionRef"]] = OrderedDict()


@dataclass(frozen=True)
class ModelVersionRef:
    id: int
    family: str
    task: str | None
    scope: str
    artifact_path: Path
    threshold: float | None
    metrics: dict[str, Any]
    loaded: Any = None  # what the family's ``load`` returned, when it has one
    dataset_root: Path | None = None  # the folder of the dataset its run trained on, while that is imported


def _predict_module(family: str) -> str:
    from engine.families import FAMILIES

    return FAMILIES[family].predict_module if family in FAMILIES else f"engine.families.{family}.predict"


def _signature(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def cached_models() -> list[tuple[int, str]]:
    """The (id, sha256) keys held now, least recently used first."""
    return list(_CACHE)


def model_ref(mv: ModelVersion) -> ModelVersionRef:
    """The model ready to predict: from the cache while its file is unchanged, else verified
    against its recorded sha256 (and loaded by the family's ``load``) and cached."""
    key = (mv.id, mv.sha256 or "")
    hit = _CACHE.get(key)
    if hit is not None:
        signature, ref = hit
        try:
            unchanged = _signature(ref.artifact_path) == signature
        except OSError:
            unchanged = False
        if unchanged:
            _CACHE.move_to_end(key)
            return replace(ref, threshold=mv.threshold, metrics=dict(mv.metrics))  # the row may have changed
        del _CACHE[key]
    # a registered artifact loads only while it still has the digest recorded at registration
    artifact = verify_recorded(mv.artifact_path, mv.sha256, what=f"model version {mv.id} artifact")
    signature = _signature(artifact)
    ref = ModelVersionRef(id=mv.id, family=mv.family, task=mv.task, scope=mv.scope, artifact_path=artifact,
                          threshold=mv.threshold, metrics=dict(mv.metrics))
    module = importlib.import_module(_predict_module(ref.family))
    if hasattr(module, "load"):
        ref = replace(ref, loaded=module.load(ref))
    _CACHE[key] = (signature, ref)
    while len(_CACHE) > get_settings().scoring_models:
        _CACHE.popitem(last=False)
    return ref


def _dataset_root(session, run_id: int) -> Path | None:
    """The folder of the dataset a model's run trained on (read at every prediction, not cached with the model)."""
    run = queries.get_run(session=session, run_id=run_id)
    dataset = queries.get_dataset(session=session, dataset_id=run.dataset_id) if run and run.dataset_id else None
    return Path(dataset.root) if dataset is not None else None


def predict_job(model_version_id: int, payload: dict[str, Any]) -> dict[str, Any]:
    """Scoring-lane job: the family's ``predict`` on ``payload``. Both travel as JSON, bytes
    base64-encoded (``jobs.wire.pack``): the job unpacks the payload and packs the result."""
    with session_scope() as s:
        mv = queries.get_model_version(session=s, model_version_id=model_version_id)
        if mv is None:
            raise LookupError(f"no model version with id {model_version_id}")
        ref = replace(model_ref(mv), dataset_root=_dataset_root(s, mv.run_id))
    module = importlib.import_module(_predict_module(ref.family))
    return wire.pack(module.predict(ref, wire.unpack(payload)))
