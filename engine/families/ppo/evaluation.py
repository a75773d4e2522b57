"""Evaluate a policy on held-out logos against VTracer's default parameters.

One deterministic episode per image, or ``episodes`` of them (the policy sampling its actions, or
each starting from randomly perturbed parameters); the agent's answer is the best parameter set
it visited (what ``predict`` returns), scored with SSIM, MSE and PSNR, its time per image, and
whether it reached the category's target. The defaults' SSIM on the same image is the baseline.
With several episodes per image, per category (the seed system's validation framework's scores):

- ``spread``: the mean over images of the standard deviation of SSIM across its episodes;
- ``stability``: 1 − the mean over images of the SSIM range (max − min) across its episodes
  (1: every episode of an image ends at the same SSIM);
- ``consistency``: the share of images whose episodes agree on success (all reach the target,
  or none does).

``write_report`` keeps each validation as ``validation/validation_report_<step>.json`` and
``write_plots`` as ``validation/visualizations_<step>/`` in the run folder. Which
validation images a periodic validation takes is ``ValSampler``'s choice: round-robin, random
or least-evaluated, per category.
"""
from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engine.families.ppo.config import CATEGORIES

__all__ = ["run_episode", "evaluate", "summarise", "ValSampler", "write_report", "write_plots", "REPORT_FOLDER"]

REPORT_FOLDER = "validation"

Policy = Callable[[np.ndarray], np.ndarray]


def run_episode(env: Any, policy: Policy, image_index: int, start_noise: float = 0.0,
                episode: int = 0) -> dict[str, Any]:
    """Play one episode on image ``image_index``; the best visited parameters are the answer.
    ``start_noise`` > 0 starts from randomly perturbed parameters instead of the defaults."""
    start = time.perf_counter()
    obs, _ = env.reset(options={"image_index": image_index, "start_noise": start_noise})
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
            "seconds": time.perf_counter() - start, "steps": env.steps, "default_ssim": env.default_ssim,
            "image": int(image_index), "episode": int(episode)}


def evaluate(env: Any, policy: Policy, indices: Sequence[int], *, episodes: int = 1,
             start_noise: float = 0.0) -> list[dict[str, Any]]:
    """``episodes`` episodes of every image in ``indices`` (image by image)."""
    return [run_episode(env, policy, i, start_noise, e) for i in indices for e in range(episodes)]


def _repeatability(rows: Sequence[Mapping[str, Any]]) -> dict[str, float] | None:
    """Spread, stability and consistency over the images of ``rows`` that have 2+ episodes."""
    per_image: dict[Any, list[Mapping[str, Any]]] = defaultdict(list)
    for r in rows:
        per_image[r.get("path") or r.get("image")].append(r)
    repeated = [eps for eps in per_image.values() if len(eps) > 1]
    if not repeated:
        return None
    ssims = [np.array([e["ssim"] for e in eps], float) for eps in repeated]
    return {"spread": float(np.mean([x.std() for x in ssims])),
            "stability": float(np.clip(1.0 - np.mean([x.max() - x.min() for x in ssims]), 0.0, 1.0)),
            "consistency": float(np.mean([len({bool(e["success"]) for e in eps}) == 1 for eps in repeated]))}


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
    for k, v in (_repeatability(results) or {}).items():
        out[f"{prefix}/{k}"] = v
    by_cat: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for r in results:
        by_cat[r["category"]].append(r)
    beats = 0
    for cat, rows in by_cat.items():
        for k in ("ssim", "default_ssim", "psnr", "seconds"):
            out[f"{prefix}/{cat}/{k}"] = float(np.mean([r[k] for r in rows]))
        out[f"{prefix}/{cat}/success_rate"] = float(np.mean([r["success"] for r in rows]))
        for k, v in (_repeatability(rows) or {}).items():
            out[f"{prefix}/{cat}/{k}"] = v
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


def write_report(folder: Path, step: int, results: Sequence[Mapping[str, Any]], metrics: Mapping[str, float],
                 *, extra: Mapping[str, Any] | None = None, name: str | None = None) -> Path:
    """``validation_report_<step>.json``: the summary, and every episode (image, category, SSIM,
    success, parameters, time)."""
    import json

    folder.mkdir(parents=True, exist_ok=True)
    episodes = [{k: (float(v) if isinstance(v, (np.floating, float)) else bool(v) if isinstance(v, (bool, np.bool_))
                     else v) for k, v in r.items()} for r in results]
    path = folder / (f"{name}_report.json" if name else f"validation_report_{step:09d}.json")
    path.write_text(json.dumps({"step": int(step), **dict(extra or {}), "metrics": dict(metrics),
                                "episodes": episodes}, default=float, indent=1))
    return path


def write_plots(folder: Path, step: int, results: Sequence[Mapping[str, Any]], *,
                name: str | None = None) -> Path | None:
    """``visualizations_<step>/ssim_by_category.png``: per category, the agent's SSIM (bars, the
    spread across episodes as error bars) beside the defaults'. A plot that cannot be drawn is
    logged, never fatal."""
    import logging

    try:
        from matplotlib.figure import Figure

        cats = [c for c in CATEGORIES if any(r["category"] == c for r in results)]
        agent = [float(np.mean([r["ssim"] for r in results if r["category"] == c])) for c in cats]
        default = [float(np.mean([r["default_ssim"] for r in results if r["category"] == c])) for c in cats]
        spread = [(_repeatability([r for r in results if r["category"] == c]) or {}).get("spread", 0.0) for c in cats]
        fig = Figure(figsize=(6, 3.5), dpi=80)
        ax = fig.add_subplot()
        x = np.arange(len(cats))
        ax.bar(x - 0.2, agent, 0.4, yerr=spread, capsize=3, label="agent (± spread)", color="#1f77b4")
        ax.bar(x + 0.2, default, 0.4, label="VTracer defaults", color="#bbbbbb")
        ax.set_xticks(x, cats)  # categories: a categorical axis
        ax.set_ylim(0, 1)
        ax.set_ylabel("SSIM")
        ax.set_title(f"Validation at timestep {step}")
        ax.legend(fontsize=8, loc="lower right")
        out = folder / (f"{name}_visualizations" if name else f"visualizations_{step:09d}")
        out.mkdir(parents=True, exist_ok=True)
        fig.savefig(out / "ssim_by_category.png")
        return out / "ssim_by_category.png"
    except Exception:
        logging.getLogger("trainyard.ppo").exception("validation plot at timestep %d not written", step)
        return None
