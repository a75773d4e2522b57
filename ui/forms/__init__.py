"""Launch forms. ``ui/forms/<family>.py`` may define ``render_form(defaults) -> dict | list[dict]``
(a list launches one run per config); otherwise ``generic_form`` renders the config's
top-level scalar fields."""
from __future__ import annotations

import typing
from types import ModuleType
from typing import Any, Literal

import streamlit as st
from pydantic import BaseModel

from ui import optional_module


def family_form(family_key: str) -> ModuleType | None:
    return optional_module(f"ui.forms.{family_key}")


def generic_form(model: type[BaseModel], defaults: dict[str, Any], *, key: str) -> dict[str, Any]:
    """Widgets for scalar fields (numbers, booleans, text, choices); other keys keep defaults
    and stay editable in the YAML editor."""
    values = dict(defaults)
    cols = st.columns(3)
    i = 0
    for name, field in model.model_fields.items():
        ann, default = field.annotation, defaults.get(name, field.default)
        help_ = field.description
        wkey = f"{key}-{name}"
        col = cols[i % 3]
        if typing.get_origin(ann) is Literal:
            options = list(typing.get_args(ann))
            values[name] = col.selectbox(name, options, index=options.index(default) if default in options else 0,
                                         help=help_, key=wkey)
        elif ann is bool:
            values[name] = col.checkbox(name, value=bool(default), help=help_, key=wkey)
        elif ann is int and isinstance(default, int):
            values[name] = int(col.number_input(name, value=default, step=1, help=help_, key=wkey))
        elif ann is float and isinstance(default, (int, float)):
            values[name] = float(col.number_input(name, value=float(default), format="%g", help=help_, key=wkey))
        elif ann is str:
            values[name] = col.text_input(name, value=default or "", help=help_, key=wkey)
        else:
            continue
        i += 1
    return values
