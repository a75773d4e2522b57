"""Bridge stable-baselines3 to a ``RunContext``: a ``KVWriter`` for SB3's own logger values and
a ``BaseCallback`` for progress, cancel, finished episodes and rollout boundaries."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import KVWriter, Logger

from engine.core import RunContext

__all__ = ["ContextWriter", "RunCallback", "context_logger"]

SB3_PREFIXES = ("train/", "rollout/")  # losses, approx_kl, clip_fraction, explained_variance; ep_rew_mean, ep_len_mean


class ContextWriter(KVWriter):
    """Every ``logger.dump(step)`` of SB3 becomes one ``ctx.log`` at that step (timesteps)."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx

    def write(self, key_values: dict[str, Any], key_excluded: dict[str, Any], step: int = 0) -> None:
        metrics = {k: float(v) for k, v in key_values.items()
                   if k.startswith(SB3_PREFIXES) and isinstance(v, (int, float, np.number)) and np.isfinite(v)}
        if metrics:
            self.ctx.log(metrics, step=int(step))

    def close(self) -> None:
        """Nothing to close: the context owns its sink."""


def context_logger(ctx: RunContext) -> Logger:
    return Logger(folder=None, output_formats=[ContextWriter(ctx)])


class RunCallback(BaseCallback):
    """Progress every step, ``should_stop`` ends learning (SB3 stops when this returns False),
    finished episodes go to ``on_episode``, rollout starts and ends to the trainer's hooks;
    ``halt()`` True (early stopping) ends learning too."""

    def __init__(self, ctx: RunContext, total: int, *, on_episode: Callable[[dict[str, Any]], None],
                 on_rollout_start: Callable[[int], None], on_rollout_end: Callable[[int], None],
                 halt: Callable[[], bool] = lambda: False) -> None:
        super().__init__(verbose=0)
        self._halt = halt
        self.ctx, self.total = ctx, total
        self._on_episode, self._start, self._end = on_episode, on_rollout_start, on_rollout_end
        self.stopped = False

    def _on_step(self) -> bool:
        for done, info in zip(self.locals["dones"], self.locals["infos"]):
            if done:
                self._on_episode(info)
        self.ctx.progress(self.num_timesteps, self.total, "train")
        if self.ctx.should_stop():
            self.stopped = True
            return False
        return not self._halt()  # early stopping: SB3 ends learn() without it being a cancel

    def _on_rollout_start(self) -> None:
        self._start(self.num_timesteps)

    def _on_rollout_end(self) -> None:
        self._end(self.num_timesteps)
