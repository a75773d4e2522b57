"""Evaluate a saved PPO agent on a split of a logos dataset against VTracer's default
parameters, with the family's own episode loop (``evaluation.run_episode`` / ``summarise``, as
training evaluates its test split): mean SSIM reached, success rate (the category's target SSIM
reached), the defaults' SSIM beside them, per category.

``episodes`` (option, default 1) episodes per image: one is the deterministic policy, exactly the
trainer's test evaluation; more sample the policy's actions (seeded), and the spread is the
standard deviation of SSIM over the images and episodes of each category, and of the per-episode
means. Artifact: SSIM per category, agent vs defaults, with that spread.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.core import DatasetRef, EvalContext, EvalResult, EvaluationRefused, VerifiedFile, check_stop

__all__ = ["evaluate", "eval_splits"]

SPLITS = ("train", "val", "test")
PLOT_FILE = "plots/ssim_per_category.png"


def eval_splits(dataset: DatasetRef, task: str | None = None) -> tuple[str, ...]:
    """The splits of the import summary that hold usable images (light: summary only)."""
    per_split = dict((dataset.summary or {}).get("splits") or {})
    return tuple(s for s in SPLITS if sum((per_split.get(s) or {}).values()))


def _policy(model: VerifiedFile):
    from engine.checkpoints import load_verified
    from engine.families.ppo.config import PpoConfig
    from engine.families.ppo.trainer import ARTIFACT_KIND, CHECKPOINT_KIND, build_policy

    state = load_verified(model.path, model.sha256, what=model.what)
    if state.get("kind") not in (CHECKPOINT_KIND, ARTIFACT_KIND):
        raise EvaluationRefused(f"{model.what} is not a ppo policy")
    policy = build_policy(state["net_arch"])
    policy.load_state_dict(state["policy"])
    policy.set_training_mode(False)
    return policy, PpoConfig.model_validate(state["config"])


def _plot(path: Path, rows: list[dict[str, Any]], split: str) -> Path:
    import numpy as np
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.4), dpi=80)
    ax = fig.add_subplot()
    x = np.arange(len(rows))
    ax.bar(x - 0.2, [r["ssim"] for r in rows], 0.4, yerr=[r["ssim_std"] for r in rows], label="agent", capsize=3)
    ax.bar(x + 0.2, [r["default_ssim"] for r in rows], 0.4, label="VTracer defaults")
    ax.set_xticks(x, [r["category"] for r in rows])
    ax.set_ylabel("SSIM")
    ax.set_title(f"SSIM per category ({split})")
    ax.legend(fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def evaluate(model: VerifiedFile, dataset: DatasetRef, split: str, ctx: EvalContext,
             options: Mapping[str, Any]) -> EvalResult:
    import numpy as np
    import torch

    from engine.families.ppo.env import VTracerEnv
    from engine.families.ppo.evaluation import run_episode, summarise
    from engine.families.ppo.trainer import CPU_THREADS, env_kwargs, load_images
    from engine.families.ppo.vectorize import Vectorizer

    episodes = int(options.get("episodes", 1))
    torch.set_num_threads(CPU_THREADS)
    policy, config = _policy(model)
    images = load_images(dataset).get(split) or []
    if not images:
        raise EvaluationRefused(f"split {split!r} of dataset {dataset.name!r} holds no usable logo")
    env = VTracerEnv(images, vectorizer=Vectorizer(config.cache_size), **env_kwargs(config))
    results, per_episode = [], []
    total = episodes * len(images)
    deterministic = episodes == 1

    def act(obs):
        return policy.predict(obs, deterministic=deterministic)[0]

    for e in range(episodes):
        torch.manual_seed(config.seed + e)
        rows = []
        for i in range(len(images)):
            rows.append(run_episode(env, act, i))
            ctx.progress(e * len(images) + i + 1, total, "episodes")
            check_stop(ctx)
        results += rows
        per_episode.append(float(np.mean([r["ssim"] for r in rows])))
    metrics = summarise(results, split)
    metrics[f"{split}/episodes"] = float(episodes)
    metrics[f"{split}/images"] = float(len(images))
    metrics[f"{split}/ssim_std"] = float(np.std([r["ssim"] for r in results]))
    metrics[f"{split}/episode_ssim_std"] = float(np.std(per_episode))
    by_cat: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        by_cat[r["category"]].append(r)
    table = []
    for cat, rows in by_cat.items():
        ssim = [r["ssim"] for r in rows]
        metrics[f"{split}/{cat}/ssim_std"] = float(np.std(ssim))
        table.append({"category": cat, "images": len({r["path"] for r in rows}), "episodes": len(rows),
                      "ssim": float(np.mean(ssim)), "ssim_std": float(np.std(ssim)),
                      "default_ssim": float(np.mean([r["default_ssim"] for r in rows])),
                      "success_rate": float(np.mean([r["success"] for r in rows])),
                      "beats_defaults": float(np.mean(ssim)) >= float(np.mean([r["default_ssim"] for r in rows])) - 1e-9})
    return EvalResult(metrics=metrics, tables={"per_category": table},
                      artifacts=[_plot(Path(ctx.out_dir) / PLOT_FILE, table, split)])
