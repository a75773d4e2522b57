"""The family registry, filled with the built-in families and any plugin modules.

Plugins are modules named in ``TRAINYARD_EXTRA_FAMILIES`` (comma-separated) that call
``FAMILIES.register(...)`` at import; the test suite registers its fixture family this way so
that real worker processes see it too.
"""
from __future__ import annotations

import importlib
import os

from engine.core import FAMILIES, Family
from engine.families.anomaly import FAMILY as ANOMALY
from engine.families.ppo import FAMILY as PPO
from engine.families.reid import FAMILY as REID
from engine.families.transition import FAMILY as TRANSITION
from engine.families.yolo import FAMILY as YOLO

__all__ = ["FAMILIES", "Family", "load_plugins"]

BUILTIN: list[Family] = [ANOMALY, YOLO, REID, PPO, TRANSITION]

for _family in BUILTIN:
    FAMILIES.register(_family)


def load_plugins(spec: str | None = None) -> None:
    """Import the modules listed in ``spec`` (default: the environment variable)."""
    spec = os.environ.get("TRAINYARD_EXTRA_FAMILIES", "") if spec is None else spec
    for name in filter(None, (s.strip() for s in spec.split(","))):
        importlib.import_module(name)


load_plugins()
