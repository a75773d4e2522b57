"""Evaluate a policy on held-out logos against VTracer's default parameters.

One deterministic episode per image; the agent's answer is the best parameter set it visited
(what ``predict`` returns), scored with SSIM, MSE and PSNR, its time per image, and whether it
reached the category's target. The defaults' SSIM on the same image is the baseline. Which
validation images a periodic validation takes is ``ValSampler``'s choice: round-robin, random
or least-evaluated, per category.
"""
from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from engine.families.ppo.config import CATEGORIES

__all__ = ["run_episode", "evaluate", "summarise", "ValSampler"]

Policy = Callable[[np.ndarray], np.ndarray]


def run_episode(env: Any, policy: Policy, image_index: int) -> dict[str, Any]:
    """Play one episode on image ``image_index``; the best visited parameters are the answer."""
    start = time.perf_counter()
    obs, _ = env.reset(options={"image_index": image_index})
    total, done, info = 0.0, False, {}
    while not done:
        obs, reward, terminated, truncated, info = env.step(policy(obs))
        total += reward
        done = terminated or truncated
    best = env.best
    target = env.targets[env.image.category]
    return {"category": env.image.category, "path": env.image.path, "ssim": best["ssim"], "mse": best["mse"],
            "psnr": best["psnr"], "svg_bytes": best["svg_bytes"], "params": best["params"],
            "final_ssim": info["ssim"], "success": best["ssim"] >= target, "reward": total,
            "seconds": time.perf_counter() - start, "steps": env.steps, "default_ssim": env.default_ssim}


def evaluate(env: Any, policy: Policy, indices: Sequence[int]) -> list[dict[str, Any]]:
    return [run_episode(env, policy, i) for i in indices]


def summarise(results: Sequence[Mapping[str, Any]], prefix: str) -> dict[str, float]:
    """Means overall and per category (``<prefix>/<category>/ssim`` ...), with the defaults'
    SSIM alongside and how many categories the agent matched or beat the defaults in."""
    out: dict[str, float] = {}
    if not results:
        return out
    keys = ("ssim", "mse", "psnr", "svg_bytes", "seconds", "reward", "default_ssim")
    for k in keys:
        out[f"{prefix}/{k}"] = float(np.mean([r[k] for r in results]))
    out[f"{prefix}/success_rate"] = float(np.mean([r["success"] for r in results]))
    by_cat: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for r in results:
        by_cat[r["category"]].append(r)
    beats = 0
    for cat, rows in by_cat.items():
        for k in ("ssim", "default_ssim", "psnr", "seconds"):
            out[f"{prefix}/{cat}/{k}"] = float(np.mean([r[k] for r in rows]))
        out[f"{prefix}/{cat}/success_rate"] = float(np.mean([r["success"] for r in rows]))
        beats += out[f"{prefix}/{cat}/ssim"] >= out[f"{prefix}/{cat}/default_ssim"] - 1e-9
    out[f"{prefix}/categories"] = float(len(by_cat))
    out[f"{prefix}/categories_matching_defaults"] = float(beats)
    return out


class ValSampler:
    """Chooses up to ``n`` validation images per category for each periodic validation."""

    def __init__(self, by_category: Mapping[str, Sequence[int]], n: int, mode: str, seed: int = 0) -> None:
        self.by_category = {c: list(v) for c, v in by_category.items() if v}
        self.n, self.mode = n, mode
        self.rng = np.random.default_rng(seed)
        self.offset: Counter = Counter()
        self.count: Counter = Counter()

    def pick(self) -> list[int]:
        chosen: list[int] = []
        for cat in CATEGORIES:
            pool = self.by_category.get(cat, [])
            k = min(self.n, len(pool))
            if not k:
                continue
            if self.mode == "random":
                take = [int(x) for x in self.rng.choice(pool, size=k, replace=False)]
            elif self.mode == "least_evaluated":
                take = sorted(pool, key=lambda i: (self.count[i], i))[:k]
            else:
                start = self.offset[cat]
                take = [pool[(start + j) % len(pool)] for j in range(k)]
                self.offset[cat] = (start + k) % len(pool)
            self.count.update(take)
            chosen += take
        return chosen

    def state_dict(self) -> dict[str, Any]:
        return {"offset": dict(self.offset), "count": {int(k): v for k, v in self.count.items()},
                "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.offset, self.count = Counter(state["offset"]), Counter({int(k): v for k, v in state["count"].items()})
        self.rng.bit_generator.state = state["rng"]
