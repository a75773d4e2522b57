"""The ViT that turns a drawing into a vector: loading, preprocessing, batched CLS embeddings.

``google/vit-base-patch16-224-in21k`` is the production choice (768-value CLS, 769 with age).
No model hub is reachable in the demo and the tests, so the name ``tiny-vit`` stands for a small
ViT built from a ``ViTConfig`` with fixed seed and saved once under the artifacts folder; any
local folder must lie in the models folder (``engine.trust``), and a hub id goes to
``ViTModel.from_pretrained``; either loads safetensors only.
"""
from __future__ import annotations

import io
import os
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from engine.families.anomaly.config import AGE_MAX, AGE_MIN, TINY_BACKBONE, backbone_source

__all__ = ["TINY_VIT", "build_tiny_vit", "resolve_backbone", "load_backbone", "Backbone", "normalise_age",
           "feature_vector"]

# Small enough to embed hundreds of drawings per second on one CPU core.
TINY_VIT = dict(image_size=64, patch_size=16, hidden_size=48, num_hidden_layers=2, num_attention_heads=4,
                intermediate_size=96, initializer_range=0.05)
TINY_SEED = 0


def _transformers():
    """``transformers`` on first use only: a run whose embeddings are all stored never pays for it."""
    import transformers
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # worker logs are read by people; no tqdm bars there
    return transformers


def build_tiny_vit(dest: Path, seed: int = TINY_SEED, **overrides) -> Path:
    """Build the tiny ViT from its config with a fixed seed and ``save_pretrained`` it to ``dest``.

    Written to a temporary folder and renamed, so two workers building at once never leave a
    half-written model; the same seed gives the same weights, so either copy is the same."""
    dest = Path(dest)
    if (dest / "config.json").exists():
        return dest
    torch.manual_seed(seed)
    hf = _transformers()
    model = hf.ViTModel(hf.ViTConfig(**{**TINY_VIT, **overrides}), add_pooling_layer=False)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    model.save_pretrained(tmp)
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        tmp.rename(dest)
    except OSError:  # another process finished first
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def resolve_backbone(name: str) -> str:
    """``tiny-vit`` → its local folder (built on first use); a local folder only inside the models
    folder (``engine.trust``); a hub id as given."""
    if name == TINY_BACKBONE:
        from settings import get_settings

        return str(build_tiny_vit(get_settings().resolved_artifacts_dir / "backbones" / TINY_BACKBONE))
    return backbone_source(name)


def normalise_age(age: float) -> float:
    """Age in years → [0, 1] over the accepted range."""
    return (float(age) - AGE_MIN) / (AGE_MAX - AGE_MIN)


def feature_vector(cls: np.ndarray, age: float) -> np.ndarray:
    """The stored vector: CLS embedding followed by the normalised age (float32)."""
    return np.concatenate([np.asarray(cls, dtype=np.float32), np.float32([normalise_age(age)])])


class Backbone:
    """A loaded ViT plus the preprocessing it expects (square resize, [-1, 1] pixels)."""

    def __init__(self, name: str, device: str = "cpu") -> None:
        self.name = name
        self.device = device
        path = resolve_backbone(name)
        try:
            # safetensors only: a pickled pytorch_model.bin is never loaded, wherever it comes from
            self.model = _transformers().ViTModel.from_pretrained(path, add_pooling_layer=False,
                                                                  use_safetensors=True).to(device).eval()
        except OSError as exc:
            raise RuntimeError(
                f"cannot load ViT backbone {name!r}: {exc}. Without access to the model hub use a local "
                f"folder (save_pretrained) or '{TINY_BACKBONE}' for the offline demo.") from None
        cfg = self.model.config
        size = cfg.image_size
        self.size = size if isinstance(size, int) else int(size[0])
        self.dim = int(cfg.hidden_size)

    def preprocess(self, images: list[Image.Image]) -> torch.Tensor:
        arrays = [np.asarray(img.convert("RGB").resize((self.size, self.size), Image.BILINEAR), dtype=np.float32)
                  for img in images]
        batch = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2) / 255.0
        return (batch - 0.5) / 0.5  # the in21k ViTs' mean and std

    @torch.inference_mode()
    def embed(self, images: list[Image.Image]) -> np.ndarray:
        """CLS embeddings of a batch, shape ``(len(images), hidden_size)``."""
        return self.embed_pixels(self.preprocess(images))

    @torch.inference_mode()
    def embed_pixels(self, pixels: torch.Tensor) -> np.ndarray:
        """CLS embeddings of a preprocessed batch (``preprocess``'s output, e.g. from a data loader)."""
        out = self.model(pixel_values=pixels.to(self.device, non_blocking=True))
        return out.last_hidden_state[:, 0].float().cpu().numpy()

    def embed_bytes(self, data: bytes) -> np.ndarray:
        with Image.open(io.BytesIO(data)) as img:
            return self.embed([img])[0]


@lru_cache(maxsize=4)
def load_backbone(name: str, device: str = "cpu") -> Backbone:
    """One loaded copy per process, name and device (workers keep it between jobs)."""
    return Backbone(name, device)
