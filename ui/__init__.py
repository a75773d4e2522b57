"""Shared Streamlit helpers. Light imports only: a page must open in well under a second."""
from __future__ import annotations

import importlib
from types import ModuleType


def optional_module(name: str) -> ModuleType | None:
    """Import ``name`` if it exists (a family's own form or data view), else None; errors inside
    an existing module still raise."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        return None
