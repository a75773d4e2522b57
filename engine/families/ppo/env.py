"""The gymnasium environment: tune VTracer's parameters for one logo, a few steps at a time.

An episode takes one image (from the curriculum's current category, or now and then from an
earlier one) and starts from VTracer's default parameters. Each step moves every parameter by
up to ``action_scale`` of its range; the reward is the SSIM gained minus a penalty for the
growth of ln(SVG bytes) and for conversion time, plus a bonus when the category's target SSIM
is reached, which ends the episode (as does ``max_steps``). The observation is the image's
features, its category, the current parameters (as fractions of their ranges), the current
SSIM and the fraction of steps used. Registered as ``Trainyard/VTracer-v0``.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from engine.families.ppo.analysis import FEATURE_NAMES, analyse, features
from engine.families.ppo.config import CATEGORIES, DEFAULT_TARGETS
from engine.families.ppo.params import DEFAULTS, PARAMS, denormalise, normalise
from engine.families.ppo.vectorize import Vectorizer, image_key

__all__ = ["ENV_ID", "LogoImage", "VTracerEnv", "OBS_SIZE", "make_image"]

ENV_ID = "Trainyard/VTracer-v0"
OBS_SIZE = len(FEATURE_NAMES) + len(CATEGORIES) + len(PARAMS) + 2


@dataclass(frozen=True)
class LogoImage:
    key: str
    category: str
    rgb: np.ndarray
    features: tuple[float, ...]
    path: str = ""


def make_image(rgb: np.ndarray, category: str, path: str = "", analysis: Mapping[str, Any] | None = None) -> LogoImage:
    """A ``LogoImage`` from pixels (analysed here unless ``analysis`` is given, e.g. from the DB)."""
    rgb = np.ascontiguousarray(rgb[..., :3], dtype=np.uint8)
    return LogoImage(key=image_key(rgb), category=category, rgb=rgb,
                     features=tuple(features(dict(analysis) if analysis else analyse(rgb))), path=path)


def _demo_images() -> list[LogoImage]:
    """Two tiny images so ``gym.make(ENV_ID)`` works without arguments (checks, demos)."""
    yy, xx = np.mgrid[0:32, 0:32]
    flat = np.full((32, 32, 3), 255, np.uint8)
    flat[8:24, 8:24] = (200, 30, 30)
    ramp = np.stack([xx * 8, yy * 8, 255 - xx * 4], axis=-1).clip(0, 255).astype(np.uint8)
    return [make_image(flat, "simple"), make_image(ramp, "gradient")]


class VTracerEnv(gym.Env):
    metadata = {"render_modes": []}

    def __init__(self, images: Sequence[LogoImage] | None = None, *, targets: Mapping[str, float] | None = None,
                 max_steps: int = 4, action_scale: float = 0.5, size_penalty: float = 0.02,
                 time_penalty: float = 0.5, success_bonus: float = 0.1, replay_fraction: float = 0.25,
                 vectorizer: Vectorizer | None = None) -> None:
        super().__init__()
        self.images = list(images) if images else _demo_images()
        self.targets = {**DEFAULT_TARGETS, **dict(targets or {})}
        self.max_steps, self.action_scale = int(max_steps), float(action_scale)
        self.size_penalty, self.time_penalty, self.success_bonus = size_penalty, time_penalty, success_bonus
        self.replay_fraction = replay_fraction
        self.vectorizer = vectorizer or Vectorizer()
        self.observation_space = gym.spaces.Box(0.0, 1.0, shape=(OBS_SIZE,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(len(PARAMS),), dtype=np.float32)
        self.current: str | None = None  # curriculum stage; None: every category
        self.earlier: list[str] = []
        self._by_cat = {c: [i for i, im in enumerate(self.images) if im.category == c] for c in CATEGORIES}
        self.image: LogoImage = self.images[0]
        self.frac = np.array(normalise(DEFAULTS), np.float64)
        self.ssim = self.default_ssim = 0.0
        self.svg_bytes = 1
        self.steps = 0
        self.best: dict[str, Any] = {}

    # ---- curriculum ----
    def set_stage(self, current: str | None, earlier: Sequence[str] = ()) -> None:
        """Draw episodes from ``current`` (None: all categories), sometimes from ``earlier``."""
        self.current, self.earlier = current, [c for c in earlier if self._by_cat.get(c)]

    def _pick(self) -> int:
        if self.current is None or not self._by_cat.get(self.current):
            return int(self.np_random.integers(len(self.images)))
        cat = self.current
        if self.earlier and self.np_random.random() < self.replay_fraction:
            cat = self.earlier[int(self.np_random.integers(len(self.earlier)))]
        pool = self._by_cat[cat]
        return pool[int(self.np_random.integers(len(pool)))]

    # ---- gymnasium ----
    def _obs(self) -> np.ndarray:
        onehot = [1.0 if self.image.category == c else 0.0 for c in CATEGORIES]
        return np.array([*self.image.features, *onehot, *self.frac, min(max(self.ssim, 0.0), 1.0),
                         self.steps / self.max_steps], np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        idx = (options or {}).get("image_index")
        self.image = self.images[int(idx) if idx is not None else self._pick()]
        self.frac = np.array(normalise(DEFAULTS), np.float64)
        noise = float((options or {}).get("start_noise") or 0.0)  # validation's perturbed starts
        start = DEFAULTS
        if noise > 0:
            start = denormalise(self.frac + self.np_random.uniform(-noise, noise, size=self.frac.shape))
            self.frac = np.array(normalise(start), np.float64)
            self.default_ssim = self.vectorizer.convert(self.image.rgb, DEFAULTS, key=self.image.key).ssim
        conv = self.vectorizer.convert(self.image.rgb, start, key=self.image.key)
        self.ssim = conv.ssim
        if noise <= 0:
            self.default_ssim = conv.ssim
        self.svg_bytes = conv.svg_bytes
        self.steps = 0
        self.best = {}
        return self._obs(), {"ssim": self.ssim, "category": self.image.category}

    def step(self, action):
        act = np.clip(np.asarray(action, np.float64).reshape(-1), -1.0, 1.0)
        params = denormalise(self.frac + act * self.action_scale)
        self.frac = np.array(normalise(params), np.float64)
        conv = self.vectorizer.convert(self.image.rgb, params, key=self.image.key)
        target = self.targets[self.image.category]
        reward = (conv.ssim - self.ssim
                  - self.size_penalty * (math.log(max(conv.svg_bytes, 1)) - math.log(max(self.svg_bytes, 1)))
                  - self.time_penalty * conv.seconds)
        success = conv.ssim >= target
        if success:
            reward += self.success_bonus
        self.ssim, self.svg_bytes = conv.ssim, conv.svg_bytes
        self.steps += 1
        if not self.best or conv.ssim > self.best["ssim"]:
            self.best = {"ssim": conv.ssim, "mse": conv.mse, "psnr": conv.psnr, "svg_bytes": conv.svg_bytes,
                         "params": params}
        truncated = not success and self.steps >= self.max_steps
        info = {"ssim": conv.ssim, "mse": conv.mse, "psnr": conv.psnr, "svg_bytes": conv.svg_bytes,
                "seconds": conv.seconds, "category": self.image.category, "success": success, "params": params,
                "default_ssim": self.default_ssim, "best_ssim": self.best["ssim"]}
        return self._obs(), float(reward), bool(success), bool(truncated), info


if ENV_ID not in gym.registry:
    gym.register(id=ENV_ID, entry_point="engine.families.ppo.env:VTracerEnv")
