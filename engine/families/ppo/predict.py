"""Vectorise one uploaded logo with a registered agent (called on a worker by ``jobs.inference``).

``payload``: ``image`` (bytes) and optional ``category`` (one of the four, or ``auto``: an
episode per category, the best answer kept). The agent plays one deterministic episode from
VTracer's defaults; its best visited parameters are the answer. Returns the parameters, SSIM,
MSE, PSNR, SVG size and text, a PNG of the rendered SVG, and the same for VTracer's defaults.
"""
from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from engine.checkpoints import load_checkpoint
from engine.families.ppo.config import CATEGORIES, PpoConfig
from engine.families.ppo.env import VTracerEnv, make_image
from engine.families.ppo.evaluation import run_episode
from engine.families.ppo.params import DEFAULTS
from engine.families.ppo.trainer import ARTIFACT_KIND, CHECKPOINT_KIND, build_policy, env_kwargs
from engine.families.ppo.vectorize import Vectorizer, render_svg
from engine.safeio import open_image

__all__ = ["predict", "load_policy", "MAX_SIDE"]

MAX_SIDE = 512  # larger uploads are scaled down first: VTracer's time grows with the pixel count


@lru_cache(maxsize=8)
def load_policy(path: str, mtime: float) -> tuple[Any, PpoConfig]:
    """The policy of an artifact (a copy of the run's selected checkpoint, or an older run's
    policy-only ``model.pt``) and its config (cached per file version)."""
    state = load_checkpoint(Path(path))
    if state.get("kind") not in (CHECKPOINT_KIND, ARTIFACT_KIND):
        raise ValueError(f"{path} is not a ppo policy artifact")
    policy = build_policy(state["net_arch"])
    policy.load_state_dict(state["policy"])
    policy.set_training_mode(False)
    return policy, PpoConfig.model_validate(state["config"])


def _png(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def vectorise(rgb: np.ndarray, policy: Any, config: PpoConfig, category: str = "auto") -> dict[str, Any]:
    """Run the agent on ``rgb`` (``HxWx3`` uint8); the answer, with VTracer's defaults beside it."""
    torch.set_num_threads(1)
    vectorizer = Vectorizer(256)
    cats = list(CATEGORIES) if category == "auto" else [category]
    if category != "auto" and category not in CATEGORIES:
        raise ValueError(f"category must be auto or one of {', '.join(CATEGORIES)}")

    def act(obs: np.ndarray) -> np.ndarray:
        return policy.predict(obs, deterministic=True)[0]

    tries = []
    for cat in cats:
        env = VTracerEnv([make_image(rgb, cat)], vectorizer=vectorizer, **env_kwargs(config))
        tries.append(run_episode(env, act, 0))
    best = max(tries, key=lambda r: r["ssim"])
    h, w = rgb.shape[:2]
    agent = vectorizer.convert(rgb, best["params"], keep_svg=True)
    default = vectorizer.convert(rgb, DEFAULTS, keep_svg=True)
    return {"category": best["category"], "params": best["params"], "ssim": agent.ssim, "mse": agent.mse,
            "psnr": agent.psnr, "svg_bytes": agent.svg_bytes, "svg": agent.svg, "steps": best["steps"],
            "target": config.target(best["category"]), "image_png": _png(render_svg(agent.svg, w, h)),
            "default": {"params": dict(DEFAULTS), "ssim": default.ssim, "mse": default.mse, "psnr": default.psnr,
                        "svg_bytes": default.svg_bytes, "svg": default.svg,
                        "image_png": _png(render_svg(default.svg, w, h))},
            "width": w, "height": h}


def predict(model: Any, payload: dict[str, Any]) -> dict[str, Any]:
    data = payload.get("image")
    if not isinstance(data, (bytes, bytearray)):
        raise ValueError("payload needs 'image' as bytes")
    img = open_image(io.BytesIO(bytes(data)), mode="RGB")
    scaled = max(img.size) > MAX_SIDE
    if scaled:
        img.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    path = Path(model.artifact_path)
    policy, config = load_policy(str(path), path.stat().st_mtime)
    out = vectorise(np.asarray(img), policy, config, str(payload.get("category") or "auto"))
    out.update({"model_version_id": model.id, "scaled_down": scaled, "original_png": _png(np.asarray(img))})
    return out
