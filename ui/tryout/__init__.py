"""Per-family "try the model" views: ``ui/tryout/<family>.py`` defines ``render_try(model)``
for a registered model version and ``render_results(run)`` for a run (its family's own view of
what it produced: ppo's agent against VTracer's defaults per category, anomaly's errors and
threshold, transition's per-axis error, yolo's dataset)."""
from __future__ import annotations

from ui import optional_module

__all__ = ["render_results"]


def render_results(run) -> bool:
    """The family's view of ``run`` when it has one; True when there is one."""
    module = optional_module(f"ui.tryout.{run.family}")
    view = getattr(module, "render_results", None) if module is not None else None
    if view is None:
        return False
    view(run)
    return True
