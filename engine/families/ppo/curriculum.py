"""The curriculum over image categories: simple → text → gradient → complex.

A stage advances when the success rate (target SSIM reached) over the last ``window`` episodes
of its category reaches ``threshold``, or when the stage has used its step budget. Categories
without training images are skipped. Earlier stages' categories stay in play at the environment's replay fraction. The state is
plain data, saved in each checkpoint.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

__all__ = ["Curriculum"]


class Curriculum:
    def __init__(self, order: Sequence[str], *, threshold: float, window: int, budget_steps: int,
                 enabled: bool = True) -> None:
        self.order = list(order)
        self.threshold, self.window, self.budget_steps = threshold, window, budget_steps
        self.enabled = enabled and len(self.order) > 1
        self.stage = 0
        self.stage_started = 0
        self.recent: deque[bool] = deque(maxlen=window)

    @property
    def current(self) -> str | None:
        """The category episodes come from; None without a curriculum (every category)."""
        return self.order[self.stage] if self.enabled else None

    @property
    def earlier(self) -> list[str]:
        return self.order[:self.stage] if self.enabled else []

    def record(self, category: str, success: bool) -> None:
        if self.enabled and category == self.current:
            self.recent.append(bool(success))

    @property
    def success_rate(self) -> float:
        return sum(self.recent) / len(self.recent) if self.recent else 0.0

    def maybe_advance(self, num_timesteps: int) -> bool:
        """Move to the next stage when this one is mastered or out of budget; True if it moved."""
        if not self.enabled or self.stage >= len(self.order) - 1:
            return False
        mastered = len(self.recent) >= self.window and self.success_rate >= self.threshold
        if mastered or num_timesteps - self.stage_started >= self.budget_steps:
            self.stage += 1
            self.stage_started = num_timesteps
            self.recent.clear()
            return True
        return False

    def state_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "stage_started": self.stage_started, "recent": list(self.recent)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.stage, self.stage_started = int(state["stage"]), int(state["stage_started"])
        self.recent = deque((bool(x) for x in state["recent"]), maxlen=self.window)
