"""Analyze one drawing with a registered age-group model (runs on a worker).

``payload``: ``image`` (bytes) and ``age`` (years). Returns the reconstruction error, the
model's threshold, the anomaly flag and the percentile ranks of the error and of the threshold
among the group's validation drawings (normal ones), ranked the way training placed the
threshold, so "anomalous" is exactly "percentile above the threshold's"; plus which model and
group answered.
"""
from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from engine.checkpoints import load_checkpoint
from engine.families.anomaly.backbone import feature_vector, load_backbone
from engine.families.anomaly.config import AnomalyConfig
from engine.families.anomaly.data import check_image
from engine.families.anomaly.metrics import percentile_rank
from engine.families.anomaly.trainer import ARTIFACT_KIND, build_model

__all__ = ["predict", "load", "load_model"]


@lru_cache(maxsize=16)
def load_model(path: str, mtime: float) -> tuple[Any, dict[str, Any]]:
    """The autoencoder of an artifact and its metadata (cached per file version)."""
    state = load_checkpoint(Path(path))
    if state.get("kind") != ARTIFACT_KIND:
        raise ValueError(f"{path} is not an anomaly model artifact")
    config = AnomalyConfig.model_validate(state["config"])
    model = build_model(config, state["input_dim"])
    model.load_state_dict(state["model"])
    model.eval()
    return model, state


def load(model: Any) -> tuple[Any, dict[str, Any]]:
    """The autoencoder and its metadata, for the scoring worker to keep between predictions."""
    path = Path(model.artifact_path)
    return load_model(str(path), path.stat().st_mtime)


def predict(model: Any, payload: dict[str, Any]) -> dict[str, Any]:
    data, age = payload.get("image"), payload.get("age")
    if not isinstance(data, (bytes, bytearray)):
        raise ValueError("payload needs 'image' as bytes")
    if age is None:
        raise ValueError("payload needs the drawing's 'age' in years")
    age = float(age)
    _, reason = check_image(bytes(data), payload.get("name") or "drawing.png")
    if reason:
        raise ValueError(reason)
    net, state = getattr(model, "loaded", None) or load(model)
    backbone = load_backbone(state["backbone"], "cpu")
    with Image.open(io.BytesIO(data)) as img:
        cls = backbone.embed([img.convert("RGB")])[0]
    x = torch.from_numpy(feature_vector(cls, age))
    x = ((x - state["mean"]) / state["std"]).unsqueeze(0).float()
    error = float(net.errors(x)[0])
    threshold = float(model.threshold if model.threshold is not None else state["threshold"])
    val_errors = state["val_errors"].numpy()
    lo, hi = (float(v) for v in state["age_group"].split("-"))
    return {"reconstruction_error": error, "threshold": threshold, "is_anomaly": error > threshold,
            "percentile": percentile_rank(error, val_errors),
            "threshold_percentile": percentile_rank(threshold, val_errors),
            "age_group": state["age_group"], "age": age, "age_in_group": lo <= age <= hi,
            "model_version_id": model.id, "backbone": state["backbone"]}
