"""The training lifecycle every family shares, once: RNG capture and restore, the resume point,
self-describing checkpoints, the best/last policy and early stopping.

A family builds its model and data and bridges its library's hooks; what it does with them at
an epoch's end is the same everywhere: ``Lifecycle.epoch_end`` records the monitored value,
writes ``last.pt`` (and ``best.pt`` when the epoch improved) through the run context, and says
whether to stop early. ``Lifecycle.model_state`` then names the checkpoint the run registers:
its best-validated one unless the config selects ``last``.
"""
from __future__ import annotations

import math
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.checkpoints import load_verified, save_checkpoint
from engine.core import RunContext

__all__ = ["capture_rng", "restore_rng", "resume_state", "BestLast", "EarlyStopping", "Lifecycle",
           "SELECTIONS", "CHECKPOINT_FOLDER"]

SELECTIONS = ("best", "last")
CHECKPOINT_FOLDER = "checkpoints"


def capture_rng() -> dict[str, Any]:
    """Every random generator a training touches (torch, CUDA when initialised, numpy, Python),
    as tensors and plain data so the state loads with ``weights_only=True``."""
    import numpy as np
    import torch

    _, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python": {"version": int(version), "internal": torch.tensor(internal, dtype=torch.int64),
                   "gauss": gauss},
        "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos), "has_gauss": int(has_gauss),
                  "cached": float(cached)},
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: Mapping[str, Any]) -> None:
    """Put back what ``capture_rng`` captured (also the older per-family layouts)."""
    import numpy as np
    import torch

    torch.set_rng_state(state["torch"])
    py = state["python"]
    if isinstance(py, Mapping):
        random.setstate((py["version"], tuple(int(v) for v in py["internal"].tolist()), py["gauss"]))
    else:  # (version, internal, gauss) as random.getstate() gives it
        version, internal, gauss = py
        random.setstate((version, tuple(internal), gauss))
    n = state["numpy"]
    cached = n.get("cached", n.get("gauss", 0.0))
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], cached))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def resume_state(ctx: RunContext, *, map_location: str = "cpu") -> dict[str, Any] | None:
    """The checkpoint the worker verified for this resume (digest checked again now), or None
    when the run starts fresh. A context without a recorded digest (an offline test context)
    loads ``ctx.resume_from`` as it is."""
    resume = getattr(ctx, "resume", None)
    if resume is not None:
        return load_verified(resume.path, resume.sha256, what="checkpoint", map_location=map_location)
    if ctx.resume_from is None:
        return None
    from engine.checkpoints import load_checkpoint

    return load_checkpoint(ctx.resume_from, map_location=map_location)


@dataclass
class BestLast:
    """Which epoch is best by the family's ranking value (``direction`` ``min`` or ``max``)."""
    direction: str = "min"
    min_delta: float = 0.0
    best: float | None = None
    best_step: int | None = None

    def improves(self, value: float | None) -> bool:
        if value is None or not math.isfinite(value):
            return False
        if self.best is None:
            return True
        gain = (self.best - value) if self.direction == "min" else (value - self.best)
        return gain > self.min_delta

    def offer(self, value: float | None, step: int) -> bool:
        """Record ``value`` at ``step``; True when it is a new best."""
        if self.improves(value):
            self.best, self.best_step = float(value), int(step)
            return True
        return False

    def state(self) -> dict[str, Any]:
        return {"best": self.best, "best_step": self.best_step}

    def load(self, state: Mapping[str, Any]) -> None:
        self.best, self.best_step = state.get("best"), state.get("best_step")


@dataclass
class EarlyStopping:
    """Stop after ``patience`` evaluations without improvement (0: never)."""
    patience: int = 0
    bad: int = 0

    def update(self, improved: bool) -> bool:
        """Count this evaluation; True when training should stop now."""
        self.bad = 0 if improved else self.bad + 1
        return bool(self.patience) and self.bad >= self.patience


@dataclass
class Lifecycle:
    """One run's checkpoints and model selection.

    ``epoch_end(state, step=, monitored=)`` offers the epoch's full state (model, optimizer,
    scheduler, whatever the family needs to resume): ``last.pt`` is written and registered every
    time, or at most every ``every_s`` seconds for families whose epochs take milliseconds (then
    also on ``flush``); ``best.pt`` whenever the epoch improved. Each file also holds the step,
    the RNG, the config, the policy's own state and ``kind``. ``resumed(state)`` restores the
    policy and the RNG from a checkpoint.
    """
    ctx: RunContext
    config: Mapping[str, Any]
    kind: str
    direction: str = "min"
    select: str = "best"
    patience: int = 0
    min_delta: float = 0.0
    every_s: float = 0.0
    folder: Path | None = None
    policy: BestLast = field(init=False)
    stopper: EarlyStopping = field(init=False)
    _pending: dict[str, tuple[dict[str, Any], int, float | None]] = field(init=False, default_factory=dict)
    _written: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        if self.select not in SELECTIONS:
            raise ValueError(f"select must be one of {', '.join(SELECTIONS)}, not {self.select!r}")
        self.policy = BestLast(self.direction, self.min_delta)
        self.stopper = EarlyStopping(self.patience)
        self.folder = Path(self.folder or Path(self.ctx.out_dir) / CHECKPOINT_FOLDER)
        self._written = time.monotonic()

    def path(self, name: str) -> Path:
        return self.folder / f"{name}.pt"

    def resumed(self, state: Mapping[str, Any]) -> int:
        """Restore policy, patience count and RNG from a checkpoint; return the next step."""
        life = state.get("lifecycle") or {}
        self.policy.load(life)
        self.stopper.bad = int(life.get("bad", 0))
        if state.get("rng") is not None:
            restore_rng(state["rng"])
        return int(state["step"]) + 1

    def epoch_end(self, state: Mapping[str, Any], *, step: int, monitored: float | None) -> bool:
        """Record the epoch; return True when early stopping says stop."""
        improved = self.policy.offer(monitored, step)
        stop = self.stopper.update(improved)
        full = {**state, "kind": self.kind, "step": int(step), "config": dict(self.config), "rng": capture_rng(),
                "lifecycle": {**self.policy.state(), "bad": self.stopper.bad, "monitored": monitored}}
        self._pending["last"] = (full, step, monitored)
        if improved:
            self._pending["best"] = (full, step, monitored)
        if not self.every_s or time.monotonic() - self._written >= self.every_s or stop:
            self.flush()
        return stop

    def flush(self) -> None:
        """Write what is pending (best first, so a kill in between never leaves last ahead of best)."""
        for name in ("best", "last"):
            pending = self._pending.pop(name, None)
            if pending is not None:
                state, step, monitored = pending
                path = save_checkpoint(self.path(name), state)
                self.ctx.checkpoint(path, step=step, monitored=monitored, best=name == "best")
        self._written = time.monotonic()

    def stop_requested(self) -> bool:
        """``ctx.should_stop()``, writing what is pending first so a resume continues after it."""
        if self.ctx.should_stop():
            self.flush()
            return True
        return False

    @property
    def selected(self) -> str:
        """``best`` or ``last``: the checkpoint the run registers (last when nothing improved)."""
        if self.select == "best" and self.policy.best_step is not None and self.path("best").is_file():
            return "best"
        return "last"

    def model_state(self) -> dict[str, Any]:
        """The selected checkpoint's state (read back from the file this run just wrote)."""
        from engine.checkpoints import load_checkpoint

        self.flush()
        return load_checkpoint(self.path(self.selected))
