"""The ``ppo`` trainer: stable-baselines3 PPO over ``VTracerEnv`` with a category curriculum.

Checkpoints are Trainyard's own ``torch.save`` files (policy and optimizer state dicts, step,
curriculum, validation sampler, RNG, config): they load with ``weights_only=True``, and a resume
loads only the checkpoint the worker verified (``ctx.resume``). SB3's zip format is not used
because loading it unpickles its hyperparameters. A resumed run continues at the saved timestep
(``reset_num_timesteps=False``), so no step is trained or logged twice.

``step_<N>.pt`` is written every ``checkpoint_freq`` timesteps (or ``checkpoint_every_s`` seconds,
whichever comes first) and at every validation (the newest ``keep_checkpoints`` stay), ``best.pt``
whenever a validation improves the monitored value (``val/<monitor_metric>``; by default
``val/ssim``, the validation twin of the ranking headline ``test/ssim``), and with
``stage_checkpoints`` a validated ``stage_<n>_<category>.pt`` that stays at each curriculum
advance. ``eval_patience`` validations without improvement stop training early. Every validation
also leaves its report and plots under ``validation/`` (``evaluation.write_report``/``write_plots``). The registered
``model.pt`` is a byte copy of the checkpoint ``engine.lifecycle`` selects: the best-validated
one unless ``select_model: last``; the test split is evaluated with that policy.
"""
from __future__ import annotations

import logging
import shutil
import time
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.checkpoints import load_checkpoint, load_verified, save_checkpoint
from engine.core import DatasetRef, FitResult, ModelArtifact, RunCancelled, RunContext, Trainer
from engine.devices import plan_devices
from engine.families.ppo import FAMILY
from engine.families.ppo.config import CATEGORIES, PpoConfig
from engine.families.ppo.curriculum import Curriculum
from engine.families.ppo.env import OBS_SIZE, LogoImage, VTracerEnv, make_image
from engine.families.ppo.evaluation import REPORT_FOLDER, ValSampler, evaluate, summarise, write_plots, write_report
from engine.families.ppo.params import PARAMS
from engine.families.ppo.vectorize import Vectorizer
from engine.lifecycle import Lifecycle, capture_rng, resume_state
from engine.safeio import UnsafeFile, inside, open_image
from engine.subsets import stratified_subset
from engine.trust import UntrustedModelError, user_weights

__all__ = ["PpoTrainer", "ARTIFACT_KIND", "CHECKPOINT_KIND", "RANK", "MONITOR", "monitor", "load_images",
           "env_kwargs", "build_policy"]

log = logging.getLogger("trainyard.ppo")

ARTIFACT_KIND = "trainyard.ppo.policy/1"  # model.pt before it became a copy of the selected checkpoint
CHECKPOINT_KIND = "trainyard.ppo.checkpoint/1"
CPU_THREADS = 1  # a 64-wide MLP gains nothing from intra-op threads; their spin-waits slow a forked worker
RANK = FAMILY.headlines[0]  # test/ssim, higher is better
MONITOR = "val/" + RANK.name.partition("/")[2]  # its validation twin picks best.pt by default
SPLITS = ("train", "val", "test")


def monitor(config: PpoConfig) -> str:
    """The validation metric that picks best.pt and drives early stopping (higher is better)."""
    return f"val/{config.monitor_metric}"


def load_images(dataset: DatasetRef) -> dict[str, list[LogoImage]]:
    """Usable images of the dataset per split (from its samples, analyses in their meta), read
    confined to its root."""
    out: dict[str, list[LogoImage]] = defaultdict(list)
    for smp in dataset.samples:
        meta = dict(smp.meta or {})
        if not meta.get("usable") or smp.split not in SPLITS or smp.label not in CATEGORIES:
            continue
        try:
            rgb = np.asarray(open_image(inside(Path(dataset.root), smp.path), mode="RGB"))
        except (UnsafeFile, OSError) as exc:
            log.warning("%s: %s; left out", smp.path, exc)
            continue
        out[smp.split].append(make_image(rgb, smp.label, path=smp.path, analysis=meta))
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


def _upgrade(state: Mapping[str, Any]) -> dict[str, Any]:
    """A checkpoint in today's layout: those written before ``engine.lifecycle`` kept the best
    value as ``best_val`` (-1 before the first validation) and the step as ``num_timesteps``."""
    state = dict(state)
    if "lifecycle" not in state:
        best = float(state.get("best_val", -1.0))
        state["lifecycle"] = {"best": best, "best_step": int(state["last_eval"])} if best >= 0 else {}
    state.setdefault("step", int(state["num_timesteps"]))
    return state


class _Checkpoints:
    """ppo's checkpoint files; which step is best, and which file the run registers, is the
    shared ``Lifecycle``'s choice (its ``best.pt`` path, best/last policy and ``selected``)."""

    def __init__(self, ctx: RunContext, config: PpoConfig) -> None:
        self.ctx, self.keep = ctx, config.keep_checkpoints
        self.life = Lifecycle(ctx, config.model_dump(mode="json"), kind=CHECKPOINT_KIND, direction=RANK.direction,
                              select=config.select_model, patience=config.eval_patience)
        self.periodic: list[str] = []
        self.last_ckpt = 0
        self.saved_at = time.monotonic()

    def resumed(self, state: Mapping[str, Any]) -> None:
        """Best value so far, the files to rotate and the RNG, from the resumed checkpoint."""
        self.life.resumed(state)
        self.periodic, self.last_ckpt = list(state.get("periodic", [])), int(state["last_ckpt"])

    def save(self, state: Mapping[str, Any], step: int, monitored: float | None, *, stage: str | None = None) -> bool:
        """Write ``step_<N>.pt`` (and ``best.pt`` when ``monitored`` improved, ``<stage>.pt`` when
        named); True when early stopping says stop."""
        best = self.life.policy.offer(monitored, step)
        stop = self.life.stopper.update(best) if monitored is not None else False
        state = {**state, "kind": CHECKPOINT_KIND, "step": step, "num_timesteps": step, "last_ckpt": step,
                 "rng": capture_rng(), "config": dict(self.life.config),
                 "lifecycle": {**self.life.policy.state(), "bad": self.life.stopper.bad, "monitored": monitored}}
        if stage is not None:
            self.ctx.checkpoint(save_checkpoint(self.life.path(stage), state), step=step, monitored=monitored,
                                best=False)
        if best:
            self.ctx.checkpoint(save_checkpoint(self.life.path("best"), state), step=step, monitored=monitored,
                                best=True)
        name = self.life.path(f"step_{step:09d}")
        self.periodic = [p for p in self.periodic if p != str(name)] + [str(name)]
        state["periodic"] = list(self.periodic)
        self.ctx.checkpoint(save_checkpoint(name, state), step=step, monitored=monitored, best=False)
        self.last_ckpt, self.saved_at = step, time.monotonic()
        while len(self.periodic) > self.keep:
            Path(self.periodic.pop(0)).unlink(missing_ok=True)
        return stop

    def selected(self) -> tuple[Path, int]:
        """The checkpoint to register (best.pt unless ``select_model: last``) and its step."""
        if self.life.selected == "best":
            return self.life.path("best"), int(self.life.policy.best_step)
        return Path(self.periodic[-1]), self.last_ckpt


class _Agent:
    """One run's SB3 model, environments, curriculum and validation sampler, and the hooks the
    SB3 callback calls: a validation and checkpoint at rollout starts, curriculum bookkeeping per
    finished episode, rollout metrics at rollout ends."""

    def __init__(self, config: PpoConfig, images: Mapping[str, list[LogoImage]], order: list[str],
                 ctx: RunContext) -> None:
        from stable_baselines3 import PPO
        from stable_baselines3.common.monitor import Monitor
        from stable_baselines3.common.vec_env import DummyVecEnv

        from engine.families.ppo.callbacks import context_logger

        self.config, self.ctx = config, ctx
        train = images.get("train", [])
        out = Path(ctx.out_dir)
        self.vectorizer = Vectorizer(config.cache_size, disk=out / "conversions" if config.disk_cache else None)
        kwargs = env_kwargs(config)
        self.envs = [VTracerEnv(train, vectorizer=self.vectorizer, **kwargs) for _ in range(config.n_envs)]
        val = images.get("val") or train
        self.eval_envs = {"val": VTracerEnv(val, vectorizer=self.vectorizer, **kwargs),
                          "test": VTracerEnv(images.get("test") or val, vectorizer=self.vectorizer, **kwargs)}
        self.vec = DummyVecEnv([lambda e=e: Monitor(e) for e in self.envs])
        self.model = PPO("MlpPolicy", self.vec, learning_rate=config.learning_rate, n_steps=config.n_steps,
                         batch_size=config.batch_size, n_epochs=config.n_epochs, gamma=config.gamma,
                         gae_lambda=config.gae_lambda, clip_range=config.clip_range, ent_coef=config.ent_coef,
                         vf_coef=config.vf_coef, max_grad_norm=config.max_grad_norm, seed=config.seed,
                         policy_kwargs={"net_arch": dict(pi=list(config.net_arch), vf=list(config.net_arch))},
                         device=plan_devices(ctx.device, gpus=config.gpus).primary, verbose=0)
        self.model.set_logger(context_logger(ctx))
        self.curriculum = Curriculum(order, threshold=config.advance_success_rate, window=config.success_window,
                                     budget_steps=max(1, int(config.stage_budget * config.total_timesteps)),
                                     enabled=config.curriculum)
        val_by_cat: dict[str, list[int]] = defaultdict(list)
        for i, im in enumerate(self.eval_envs["val"].images):
            val_by_cat[im.category].append(i)
        self.sampler = ValSampler(val_by_cat, config.eval_images_per_category, config.eval_sampling,
                                  seed=config.seed)
        self.checkpoints = _Checkpoints(ctx, config)
        self.monitor = monitor(config)
        self.last_eval = 0
        self.episodes: list[dict[str, Any]] = []
        self.stage_pending: str | None = None  # a curriculum advance to validate and keep at the next rollout
        self.early_stopped = False

    # ---- state
    def state(self) -> dict[str, Any]:
        return {"policy": self.model.policy.state_dict(), "optimizer": self.model.policy.optimizer.state_dict(),
                "n_updates": self.model._n_updates, "curriculum": self.curriculum.state_dict(),
                "sampler": self.sampler.state_dict(), "net_arch": list(self.config.net_arch),
                "last_eval": self.last_eval}

    def resume(self, state: Mapping[str, Any]) -> None:
        if state.get("kind") != CHECKPOINT_KIND:
            raise UntrustedModelError(f"{self.ctx.resume_from} is not a ppo checkpoint")
        state = _upgrade(state)
        self.model.policy.load_state_dict(state["policy"])
        self.model.policy.optimizer.load_state_dict(state["optimizer"])
        self.model.num_timesteps, self.model._n_updates = int(state["num_timesteps"]), int(state["n_updates"])
        self.curriculum.load_state_dict(state["curriculum"])
        self.sampler.load_state_dict(state["sampler"])
        self.last_eval = int(state["last_eval"])
        self.checkpoints.resumed(state)  # best so far, rotation and RNG
        self.vec.seed(self.config.seed + self.model.num_timesteps)  # fresh episodes, not a replay of the first ones
        log.info("resumed at timestep %d (stage %s)", self.model.num_timesteps, self.curriculum.current)

    def apply_stage(self) -> None:
        for e in self.envs:
            e.set_stage(self.curriculum.current, self.curriculum.earlier)

    # ---- evaluation
    def act(self, obs: np.ndarray) -> np.ndarray:
        return self.model.predict(obs, deterministic=True)[0]

    def sample(self, obs: np.ndarray) -> np.ndarray:
        return self.model.predict(obs, deterministic=False)[0]

    def evaluate(self, split: str, indices: Any = None, *, step: int | None = None,
                 label: str | None = None) -> dict[str, float]:
        """The split's summary over ``eval_episodes`` episodes per image; with ``step``, its report
        and plots are written to ``validation/`` (named by ``label`` when given)."""
        config, env = self.config, self.eval_envs[split]
        repeat = config.eval_episodes > 1
        stochastic = repeat and config.eval_variation == "stochastic"
        noise = config.start_perturbation if repeat and config.eval_variation == "perturbed_start" else 0.0
        results = evaluate(env, self.sample if stochastic else self.act,
                           range(len(env.images)) if indices is None else indices,
                           episodes=config.eval_episodes, start_noise=noise)
        metrics = summarise(results, split)
        if step is not None:
            folder = Path(self.ctx.out_dir) / REPORT_FOLDER
            extra = {"split": split, "label": label or split, "episodes_per_image": config.eval_episodes,
                     "variation": config.eval_variation if repeat else "deterministic",
                     "curriculum_stage": self.curriculum.stage, "monitored": self.monitor}
            if config.eval_reports:
                write_report(folder, step, results, metrics, extra=extra, name=label)
            if config.eval_plots:
                write_plots(folder, step, results, name=label)
        return metrics

    @property
    def hit_rate(self) -> float:
        return self.vectorizer.hits / max(self.vectorizer.hits + self.vectorizer.misses, 1)

    # ---- SB3 callback hooks
    def on_rollout_start(self, step: int) -> None:
        if step == 0 or step == self.checkpoints.last_ckpt:
            return  # the start of training, or the rollout a resumed run continues from
        config, monitored, stage = self.config, None, self.stage_pending
        self.stage_pending = None
        if step - self.last_eval >= config.eval_freq or stage is not None:  # periodic, or a curriculum advance
            metrics = self.evaluate("val", self.sampler.pick(), step=step)
            self.ctx.log(metrics, step=step)
            monitored = metrics[self.monitor]
            if step - self.last_eval >= config.eval_freq:  # a stage's own validation leaves the schedule as it was
                self.last_eval = step
        timed = config.checkpoint_every_s and time.monotonic() - self.checkpoints.saved_at >= config.checkpoint_every_s
        if step - self.checkpoints.last_ckpt >= config.checkpoint_freq or monitored is not None or timed:
            if self.checkpoints.save(self.state(), step, monitored, stage=stage):
                self.early_stopped = True
                log.info("early stopping at timestep %d: %d validations without %s improving", step,
                         config.eval_patience, self.monitor)

    def on_episode(self, info: dict[str, Any]) -> None:
        self.episodes.append(info)
        self.curriculum.record(info["category"], info["success"])

    def on_rollout_end(self, step: int) -> None:
        done, self.episodes = self.episodes, []
        curriculum = self.curriculum
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
        metrics["cache/hit_rate"] = self.hit_rate
        if curriculum.maybe_advance(step):
            finished = curriculum.order[curriculum.stage - 1]
            self.apply_stage()
            log.info("curriculum: stage %d (%s) from timestep %d", curriculum.stage, curriculum.current, step)
            metrics["curriculum/stage"] = float(curriculum.stage)
            if self.config.stage_checkpoints:  # validated and kept once this rollout's update is done
                self.stage_pending = f"stage_{curriculum.stage - 1}_{finished}"
        self.ctx.log(metrics, step=step)


def _package(src: Path, dest: Path) -> Path:
    """``dest`` as a byte copy of the selected checkpoint (so its sha256 is the checkpoint's)."""
    tmp = dest.with_suffix(dest.suffix + ".tmp")
    shutil.copyfile(src, tmp)
    return tmp.replace(dest)



def _load_policy(model, state: Mapping[str, Any], what: str) -> None:
    """The policy (actor and critic) of a saved ppo model, refused with both shapes named when
    its observation/action sizes or ``net_arch`` differ from this run's."""
    if not isinstance(state, Mapping) or not isinstance(state.get("policy"), Mapping):
        raise ValueError(f"{what} holds no ppo policy")
    own = model.policy.state_dict()
    wrong = [f"{k} {tuple(v.shape)} vs {tuple(own[k].shape)}" for k, v in state["policy"].items()
             if k in own and own[k].shape != v.shape]
    if wrong or set(own) != set(state["policy"]):
        raise ValueError(f"{what}'s policy does not fit this config (net_arch / observation or action size): "
                         f"{'; '.join(wrong) or ', '.join(sorted(set(own) ^ set(state['policy'])))}")
    model.policy.load_state_dict(state["policy"])
    log.info("initial policy from %s", what)

class PpoTrainer(Trainer):
    family = "ppo"

    def fit(self, config: PpoConfig, dataset: DatasetRef | None, ctx: RunContext) -> FitResult:
        from engine.families.ppo.callbacks import RunCallback

        self.require_dataset(dataset)
        ctx.progress(0, 1, "prepare")
        images = load_images(dataset)
        images["train"] = stratified_subset(images.get("train", []), group=lambda im: im.category,
                                            fraction=config.data_fraction, seed=config.seed, ident=lambda im: im.path)
        counts = {s: len(images.get(s, [])) for s in SPLITS}
        order = [c for c in config.curriculum_order if c in {im.category for im in images.get("train", [])}]
        if not order:
            raise ValueError(f"dataset {dataset.name!r} has no usable training images in the categories "
                             f"{', '.join(config.curriculum_order)}")
        log.info("ppo on %s: %d train, %d val, %d test images; curriculum %s", dataset.name, counts["train"],
                 counts["val"], counts["test"], " → ".join(order))
        if str(ctx.device).startswith("cpu"):
            torch.set_num_threads(CPU_THREADS)
        agent = _Agent(config, images, order, ctx)
        model, checkpoints = agent.model, agent.checkpoints
        resumed = resume_state(ctx)
        if config.init_version and resumed is None:  # continue a registered version's policy
            init = getattr(ctx, "init_weights", None)
            if init is None:
                raise ValueError(f"init_version {config.init_version}: this run was handed no verified start "
                                 "weights (the worker resolves the model version)")
            _load_policy(model, load_verified(init.path, init.sha256, what=f"{init.what} artifact"), init.what)
        elif config.init_weights and resumed is None:
            start = load_checkpoint(user_weights(config.init_weights, what="initial ppo policy"))
            _load_policy(model, start, config.init_weights)
        if resumed is not None:
            agent.resume(resumed)
        agent.apply_stage()

        callback = RunCallback(ctx, config.total_timesteps, on_episode=agent.on_episode,
                               on_rollout_start=agent.on_rollout_start, on_rollout_end=agent.on_rollout_end,
                               halt=lambda: agent.early_stopped)
        remaining = config.total_timesteps - model.num_timesteps
        if remaining > 0:
            model.learn(total_timesteps=remaining, callback=callback, reset_num_timesteps=False, log_interval=1,
                        progress_bar=False)
        if callback.stopped or ctx.should_stop():
            raise RunCancelled("cancelled on request")
        step = model.num_timesteps
        ctx.progress(step, config.total_timesteps, "train")

        # ---- final validation and checkpoint; the selected policy against VTracer's defaults on the test split
        ctx.progress(0, 1, "test")
        val = agent.evaluate("val", step=step)
        ctx.log(val, step=step)
        checkpoints.save(agent.state(), step, val[agent.monitor])
        chosen, chosen_step = checkpoints.selected()
        if chosen_step != step:
            model.policy.load_state_dict(load_checkpoint(chosen)["policy"])
            val = agent.evaluate("val")  # the registered policy's own validation, for its summary
            log.info("registering the best-validated policy (timestep %d, %s %.4f)", chosen_step, agent.monitor,
                     checkpoints.life.policy.best)
        test = agent.evaluate("test", step=step, label="test")
        ctx.log(test, step=step)
        ctx.progress(1, 1, "test")
        summary = {**val, **test, "timesteps": float(step), "model/timesteps": float(chosen_step),
                   "early_stopped": float(agent.early_stopped),
                   "curriculum/stage": float(agent.curriculum.stage),
                   **{f"data/{s}": float(n) for s, n in counts.items()}, "cache/hit_rate": agent.hit_rate}
        artifact = _package(chosen, Path(ctx.out_dir) / "model.pt")
        return FitResult(metrics=summary, model=ModelArtifact(path=artifact, scope="", metrics=summary))
