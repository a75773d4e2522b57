"""The ``ppo`` trainer: stable-baselines3 PPO over ``VTracerEnv`` with a category curriculum.

Checkpoints are Trainyard's own ``torch.save`` files (policy and optimizer state dicts, step,
curriculum, validation sampler, RNG, config): they load with ``weights_only=True`` and only
after their sha256 matches the Checkpoint row. SB3's zip format is not used because loading it
unpickles its hyperparameters. A resumed run continues at the saved timestep
(``reset_num_timesteps=False``), so no step is trained or logged twice.
"""
from __future__ import annotations

import logging
import random
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.checkpoints import load_checkpoint, save_checkpoint
from engine.core import DatasetRef, FitResult, ModelArtifact, RunCancelled, RunContext, Trainer
from engine.families.ppo.config import CATEGORIES, PpoConfig
from engine.families.ppo.curriculum import Curriculum
from engine.families.ppo.env import OBS_SIZE, LogoImage, VTracerEnv, make_image
from engine.families.ppo.evaluation import ValSampler, evaluate, summarise
from engine.families.ppo.params import PARAMS
from engine.families.ppo.vectorize import Vectorizer
from engine.safeio import UnsafeFile, inside, open_image
from engine.trust import UntrustedModelError, user_weights, verify_recorded

__all__ = ["PpoTrainer", "ARTIFACT_KIND", "CHECKPOINT_KIND", "load_images", "env_kwargs", "build_policy"]

log = logging.getLogger("trainyard.ppo")

ARTIFACT_KIND = "trainyard.ppo.policy/1"
CHECKPOINT_KIND = "trainyard.ppo.checkpoint/1"
CPU_THREADS = 1  # a 64-wide MLP gains nothing from intra-op threads; their spin-waits slow a forked worker


def load_images(dataset: DatasetRef) -> dict[str, list[LogoImage]]:
    """Usable images of the dataset per split, read confined to its root; analyses from the DB."""
    from db import queries
    from db.session import session_scope

    with session_scope() as s:
        rows = [(r.path, r.label, r.split, dict(r.meta or {}))
                for r in queries.dataset_samples(session=s, dataset_id=dataset.id)]
    out: dict[str, list[LogoImage]] = defaultdict(list)
    for path, category, split, meta in rows:
        if not meta.get("usable") or split not in ("train", "val", "test") or category not in CATEGORIES:
            continue
        try:
            rgb = np.asarray(open_image(inside(Path(dataset.root), path), mode="RGB"))
        except (UnsafeFile, OSError) as exc:
            log.warning("%s: %s; left out", path, exc)
            continue
        out[split].append(make_image(rgb, category, path=path, analysis=meta))
    return out


def env_kwargs(config: PpoConfig) -> dict[str, Any]:
    return {"targets": {c: config.target(c) for c in CATEGORIES}, "max_steps": config.max_steps,
            "action_scale": config.action_scale, "size_penalty": config.size_penalty,
            "time_penalty": config.time_penalty, "success_bonus": config.success_bonus,
            "replay_fraction": config.replay_fraction}


def build_policy(net_arch: list[int]):
    """A bare SB3 actor-critic for ``VTracerEnv``'s spaces (for ``predict``; no environment needed)."""
    import gymnasium as gym
    from stable_baselines3.common.policies import ActorCriticPolicy

    return ActorCriticPolicy(gym.spaces.Box(0.0, 1.0, shape=(OBS_SIZE,), dtype=np.float32),
                             gym.spaces.Box(-1.0, 1.0, shape=(len(PARAMS),), dtype=np.float32),
                             lr_schedule=lambda _: 0.0, net_arch=dict(pi=list(net_arch), vf=list(net_arch)))


def _recorded_sha256(path: Path) -> str | None:
    from db import queries
    from db.session import session_scope

    with session_scope() as s:
        row = queries.checkpoint_by_path(session=s, path=str(path))
        return row.sha256 if row else None


def _rng_state() -> dict[str, Any]:
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {"torch": torch.get_rng_state(), "python": random.getstate(),
            "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos), "has_gauss": int(has_gauss),
                      "cached": float(cached)}}


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))


class PpoTrainer(Trainer):
    family = "ppo"

    def fit(self, config: PpoConfig, dataset: DatasetRef | None, ctx: RunContext) -> FitResult:
        from stable_baselines3 import PPO
        from stable_baselines3.common.monitor import Monitor
        from stable_baselines3.common.vec_env import DummyVecEnv

        from engine.families.ppo.callbacks import RunCallback, context_logger

        self.require_dataset(dataset)
        ctx.progress(0, 1, "prepare")
        images = load_images(dataset)
        train = images.get("train", [])
        train_cats = {im.category for im in train}
        order = [c for c in config.curriculum_order if c in train_cats]
        if not order:
            raise ValueError(f"dataset {dataset.name!r} has no usable training images in the categories "
                             f"{', '.join(config.curriculum_order)}")
        val = images.get("val") or train
        test = images.get("test") or val
        log.info("ppo on %s: %d train, %d val, %d test images; curriculum %s", dataset.name, len(train),
                 len(images.get("val", [])), len(images.get("test", [])), " → ".join(order))
        if str(ctx.device).startswith("cpu"):
            torch.set_num_threads(CPU_THREADS)

        out = Path(ctx.out_dir)
        vectorizer = Vectorizer(config.cache_size, disk=out / "conversions" if config.disk_cache else None)
        kwargs = env_kwargs(config)
        envs = [VTracerEnv(train, vectorizer=vectorizer, **kwargs) for _ in range(config.n_envs)]
        val_env = VTracerEnv(val, vectorizer=vectorizer, **kwargs)
        test_env = VTracerEnv(test, vectorizer=vectorizer, **kwargs)
        vec = DummyVecEnv([lambda e=e: Monitor(e) for e in envs])
        model = PPO("MlpPolicy", vec, learning_rate=config.learning_rate, n_steps=config.n_steps,
                    batch_size=config.batch_size, n_epochs=config.n_epochs, gamma=config.gamma,
                    gae_lambda=config.gae_lambda, clip_range=config.clip_range, ent_coef=config.ent_coef,
                    vf_coef=config.vf_coef, max_grad_norm=config.max_grad_norm, seed=config.seed,
                    policy_kwargs={"net_arch": dict(pi=list(config.net_arch), vf=list(config.net_arch))},
                    device=ctx.device, verbose=0)
        model.set_logger(context_logger(ctx))

        curriculum = Curriculum(order, threshold=config.advance_success_rate, window=config.success_window,
                                budget_steps=max(1, int(config.stage_budget * config.total_timesteps)),
                                enabled=config.curriculum)
        val_by_cat: dict[str, list[int]] = defaultdict(list)
        for i, im in enumerate(val_env.images):
            val_by_cat[im.category].append(i)
        sampler = ValSampler(val_by_cat, config.eval_images_per_category, config.eval_sampling, seed=config.seed)
        st = {"last_eval": 0, "last_ckpt": 0, "best_val": -1.0, "periodic": []}

        if config.init_weights and not ctx.resume_from:
            state = load_checkpoint(user_weights(config.init_weights, what="initial ppo policy"))
            model.policy.load_state_dict(state["policy"])
            log.info("initial policy from %s", config.init_weights)
        if ctx.resume_from:
            path = Path(ctx.resume_from)
            verify_recorded(path, _recorded_sha256(path), what="ppo checkpoint")
            state = load_checkpoint(path)
            if state.get("kind") != CHECKPOINT_KIND:
                raise UntrustedModelError(f"{path} is not a ppo checkpoint")
            model.policy.load_state_dict(state["policy"])
            model.policy.optimizer.load_state_dict(state["optimizer"])
            model.num_timesteps, model._n_updates = int(state["num_timesteps"]), int(state["n_updates"])
            curriculum.load_state_dict(state["curriculum"])
            sampler.load_state_dict(state["sampler"])
            st.update({k: state[k] for k in ("last_eval", "last_ckpt", "best_val")})
            st["periodic"] = list(state.get("periodic", []))
            _set_rng_state(state["rng"])
            vec.seed(config.seed + model.num_timesteps)  # fresh episodes, not a replay of the first ones
            log.info("resumed at timestep %d (stage %s)", model.num_timesteps, curriculum.current)

        def apply_stage() -> None:
            for e in envs:
                e.set_stage(curriculum.current, curriculum.earlier)

        apply_stage()
        episodes: list[dict[str, Any]] = []

        def policy(obs: np.ndarray) -> np.ndarray:
            return model.predict(obs, deterministic=True)[0]

        def validate(step: int) -> dict[str, float]:
            metrics = summarise(evaluate(val_env, policy, sampler.pick()), "val")
            ctx.log(metrics, step=step)
            return metrics

        def checkpoint(step: int, monitored: float | None) -> None:
            state = {"kind": CHECKPOINT_KIND, "policy": model.policy.state_dict(),
                     "optimizer": model.policy.optimizer.state_dict(), "num_timesteps": step,
                     "n_updates": model._n_updates, "curriculum": curriculum.state_dict(),
                     "sampler": sampler.state_dict(), "rng": _rng_state(), "config": config.model_dump(mode="json"),
                     "net_arch": list(config.net_arch), "last_eval": st["last_eval"], "last_ckpt": step,
                     "best_val": st["best_val"]}
            best = monitored is not None and monitored > st["best_val"]
            if best:
                st["best_val"] = state["best_val"] = monitored
                ctx.checkpoint(save_checkpoint(out / "checkpoints" / "best.pt", state), step=step,
                               monitored=monitored, best=True)
            name = out / "checkpoints" / f"step_{step:09d}.pt"
            st["periodic"] = [p for p in st["periodic"] if p != str(name)] + [str(name)]
            state["periodic"] = list(st["periodic"])
            ctx.checkpoint(save_checkpoint(name, state), step=step, monitored=monitored, best=False)
            st["last_ckpt"] = step
            while len(st["periodic"]) > config.keep_checkpoints:
                Path(st["periodic"].pop(0)).unlink(missing_ok=True)

        def on_rollout_start(step: int) -> None:
            if step == 0 or step == st["last_ckpt"]:
                return  # the start of training, or the rollout a resumed run continues from
            monitored = None
            if step - st["last_eval"] >= config.eval_freq:
                monitored = validate(step)["val/ssim"]
                st["last_eval"] = step
            if step - st["last_ckpt"] >= config.checkpoint_freq or monitored is not None:
                checkpoint(step, monitored)

        def on_episode(info: dict[str, Any]) -> None:
            episodes.append(info)
            curriculum.record(info["category"], info["success"])

        def on_rollout_end(step: int) -> None:
            done, episodes[:] = list(episodes), []
            metrics: dict[str, float] = {"curriculum/stage": float(curriculum.stage),
                                         "curriculum/success_rate": curriculum.success_rate}
            if done:
                metrics["rollout/mean_reward"] = float(np.mean([e["episode"]["r"] for e in done if "episode" in e] or [0]))
                metrics["rollout/mean_ssim"] = float(np.mean([e["best_ssim"] for e in done]))
                metrics["rollout/success_rate"] = float(np.mean([e["success"] for e in done]))
                for cat in CATEGORIES:
                    mine = [e["success"] for e in done if e["category"] == cat]
                    if mine:
                        metrics[f"rollout/{cat}/success_rate"] = float(np.mean(mine))
            metrics["cache/hit_rate"] = vectorizer.hits / max(vectorizer.hits + vectorizer.misses, 1)
            if curriculum.maybe_advance(step):
                apply_stage()
                log.info("curriculum: stage %d (%s) from timestep %d", curriculum.stage, curriculum.current, step)
                metrics["curriculum/stage"] = float(curriculum.stage)
            ctx.log(metrics, step=step)

        callback = RunCallback(ctx, config.total_timesteps, on_episode=on_episode,
                               on_rollout_start=on_rollout_start, on_rollout_end=on_rollout_end)
        remaining = config.total_timesteps - model.num_timesteps
        if remaining > 0:
            model.learn(total_timesteps=remaining, callback=callback, reset_num_timesteps=False, log_interval=1,
                        progress_bar=False)
        if callback.stopped or ctx.should_stop():
            raise RunCancelled("cancelled on request")
        step = model.num_timesteps
        ctx.progress(step, config.total_timesteps, "train")

        # ---- final: validation, checkpoint, and the test split against VTracer's defaults
        ctx.progress(0, 1, "test")
        final_val = summarise(evaluate(val_env, policy, range(len(val_env.images))), "val")
        ctx.log(final_val, step=step)
        checkpoint(step, final_val["val/ssim"])
        test = summarise(evaluate(test_env, policy, range(len(test_env.images))), "test")
        ctx.log(test, step=step)
        ctx.progress(1, 1, "test")
        summary = {**final_val, **test, "timesteps": float(step), "curriculum/stage": float(curriculum.stage),
                   "data/train": float(len(train)), "data/val": float(len(images.get("val", []))),
                   "data/test": float(len(images.get("test", []))),
                   "cache/hit_rate": vectorizer.hits / max(vectorizer.hits + vectorizer.misses, 1)}
        artifact = out / "model.pt"
        save_checkpoint(artifact, {"kind": ARTIFACT_KIND, "policy": model.policy.state_dict(),
                                   "net_arch": list(config.net_arch), "config": config.model_dump(mode="json"),
                                   "metrics": summary})
        return FitResult(metrics=summary, model=ModelArtifact(path=artifact, scope="", metrics=summary))
