"""Predict the 6-DoF action between two frames with a registered transition model (on a worker).

``payload``: ``frame1`` and ``frame2`` (image bytes), optional ``true_action`` (six numbers).
Returns the predicted action per axis, and beside it the true action and the absolute error per
axis when one was given. The artifact is a Lightning checkpoint read with ``weights_only=True``
(the caller verified its sha256); Lightning itself is not needed to predict.
"""
from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from engine.families.transition.config import AXES, TransitionConfig
from engine.families.transition.data import parse_vector
from engine.safeio import MAX_PIXELS, UnsafeFile

__all__ = ["predict", "load_model"]


@lru_cache(maxsize=8)
def load_model(path: str, mtime: float):
    """The network and its normalisation from a checkpoint (cached per file version)."""
    from engine.families.transition.module import build_net

    state = torch.load(Path(path), map_location="cpu", weights_only=True)
    hp = state.get("hyper_parameters") or {}
    if "config" not in hp or "norm" not in hp:
        raise ValueError(f"{path} is not a transition model checkpoint")
    config = TransitionConfig.model_validate(hp["config"])
    net = build_net(config)
    net.load_state_dict({k[4:]: v for k, v in state["state_dict"].items() if k.startswith("net.")})
    net.eval()
    return net, config, {k: torch.tensor(v, dtype=torch.float32) for k, v in hp["norm"].items()}


def _frame(data: Any, name: str, size: int) -> torch.Tensor:
    if not isinstance(data, (bytes, bytearray)):
        raise ValueError(f"payload needs {name!r} as image bytes")
    try:
        with Image.open(io.BytesIO(bytes(data))) as img:
            if img.width * img.height > MAX_PIXELS:
                raise UnsafeFile(f"{name} is over the {MAX_PIXELS:,}-pixel limit")
            img.load()
            grey = img.convert("L").resize((size, size), Image.BILINEAR)
    except (OSError, SyntaxError) as exc:
        raise ValueError(f"{name} is not a readable image ({type(exc).__name__})") from None
    return torch.from_numpy(np.asarray(grey, dtype=np.uint8)).unsqueeze(0)


def predict(model: Any, payload: dict[str, Any]) -> dict[str, Any]:
    from engine.families.transition.module import to_input

    path = Path(model.artifact_path)
    net, config, norm = load_model(str(path), path.stat().st_mtime)
    f1 = _frame(payload.get("frame1"), "frame1", config.image_size)
    f2 = _frame(payload.get("frame2"), "frame2", config.image_size)
    with torch.inference_mode():
        out = net(to_input(f1), to_input(f2))
    action = (out["action"][0].float() * norm["change_std"] + norm["change_mean"]).tolist()
    result: dict[str, Any] = {"axes": list(AXES), "predicted": [float(v) for v in action],
                              "model_version_id": model.id}
    if payload.get("true_action") is not None:
        true = parse_vector(list(payload["true_action"]))
        result["true"] = true
        result["abs_error"] = [abs(p - t) for p, t in zip(action, true)]
    return result
