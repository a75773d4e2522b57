"""Launch forms. ``ui/forms/<family>.py`` may define ``render_form(defaults) -> dict | list[dict]``
(a list launches one run per config); otherwise ``generic_form`` renders the config's
top-level scalar fields.

A form module may also define, for a form that launches several runs at once:
``yaml_text(family, configs) -> str`` (the YAML editor's text for those configs),
``expand_yaml(data) -> list[dict]`` (the editor's data → one config per run) and
``run_label(config) -> str`` (what tells the runs apart in their names), and
``clone_defaults(config) -> dict`` (a cloned run's config as ``render_form``'s defaults)."""
from __future__ import annotations

import typing
from types import ModuleType
from typing import Any, Literal

import streamlit as st
from pydantic import BaseModel

from engine.configs import config_text
from engine.core import Family
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


def form_yaml_text(family: Family, configs: list[dict[str, Any]]) -> str:
    """What the YAML editor shows for the form's current configs (comments kept)."""
    custom = family_form(family.key)
    if custom is not None and hasattr(custom, "yaml_text"):
        return custom.yaml_text(family, configs)
    return config_text(family, configs[0])


def yaml_configs(family: Family, data: Any) -> list[Any]:
    """The configs (one per run) that the YAML editor's data launches."""
    custom = family_form(family.key)
    if custom is not None and hasattr(custom, "expand_yaml"):
        return custom.expand_yaml(data)
    return [data]


def run_names(family: Family, name: str, configs: list[BaseModel]) -> list[str]:
    """Run names: the user's name as is for one run; with several, the name (or the family when
    none was given, for a form that labels its runs) plus what tells each run apart."""
    custom = family_form(family.key)
    if custom is not None and hasattr(custom, "run_label"):
        return [f"{name or family.key} {custom.run_label(c)}" for c in configs]
    if len(configs) == 1:
        return [name]
    return [f"{name} {i + 1}" if name else "" for i in range(len(configs))]
