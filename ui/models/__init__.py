"""Per-family model views. ``ui/models/<family>.py`` may define ``render_try_model(model)`` (run a
registered model on the user's input) and ``render_results(run)`` (a finished run's result)."""
from __future__ import annotations

from types import ModuleType

from ui import optional_module


def model_view(family_key: str) -> ModuleType | None:
    return optional_module(f"ui.models.{family_key}")
