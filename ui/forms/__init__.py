"""Launch forms. ``ui/forms/<family>.py`` may define ``render_form(defaults) -> dict``: the config
data of one launch, which ``jobs.api.plan_launch`` expands (the family's ``FamilyConfig.expand``,
e.g. anomaly's ``age_groups``: one run per group) exactly as it expands the YAML editor's text;
otherwise ``generic_form`` renders the config's top-level scalar fields.

A form module may also define ``YAML_COMMENTS`` (a comment for each launch-level key, such as
``age_groups``, the YAML editor shows) and ``YAML_HINT`` (a line under the editor saying what
those keys do), ``clone_defaults(config) -> dict`` (a cloned run's config as
``render_form``'s defaults).

Number widgets take their bounds from the config model's own constraints (``field_bounds``), so
a form never offers a value the model refuses, nor refuses one it accepts."""
from __future__ import annotations

import math
import types
import typing
from types import ModuleType
from typing import Any, Literal

import streamlit as st
from pydantic import BaseModel

from engine.configs import config_text
from engine.core import Family
from ui import optional_module

__all__ = ["family_form", "render_custom_form", "generic_form", "form_yaml_text", "yaml_hint", "field_bounds", "number_field",
           "slider_field", "data_fraction_field", "device_widgets", "DEVICE_FIELDS"]

DEVICE_FIELDS = ("device", "gpus", "amp")


def family_form(family_key: str) -> ModuleType | None:
    return optional_module(f"ui.forms.{family_key}")


def render_custom_form(module: ModuleType, defaults: dict[str, Any], dataset: Any = None) -> dict[str, Any]:
    """A form module's ``render_form(defaults)``, handed the chosen dataset too when it takes a
    ``dataset`` argument (the transition form picks patients from it)."""
    import inspect

    if "dataset" in inspect.signature(module.render_form).parameters:
        return module.render_form(defaults, dataset=dataset)
    return module.render_form(defaults)


def _number_type(model: type[BaseModel], name: str) -> type:
    """``int`` or ``float`` for a numeric field (``int | None`` counts as ``int``)."""
    ann = model.model_fields[name].annotation
    if typing.get_origin(ann) in (typing.Union, types.UnionType):
        ann = next(a for a in typing.get_args(ann) if a is not type(None))
    if ann not in (int, float):
        raise TypeError(f"{model.__name__}.{name} is not a number field ({ann})")
    return ann


def field_bounds(model: type[BaseModel], name: str) -> dict[str, int | float]:
    """``min_value``/``max_value`` for a widget of ``model.name``, read from the field's
    ``ge``/``gt``/``le``/``lt``. An exclusive bound becomes the nearest value inside it (the next
    integer, or the next float). A bound the field does not have is left out."""
    kind = _number_type(model, name)
    out: dict[str, int | float] = {}
    for meta in model.model_fields[name].metadata:
        for attr, key, inside in (("ge", "min_value", None), ("gt", "min_value", math.inf),
                                  ("le", "max_value", None), ("lt", "max_value", -math.inf)):
            bound = getattr(meta, attr, None)
            if bound is None:
                continue
            if inside is None:
                out[key] = kind(bound)
            elif kind is int:
                out[key] = int(bound) + (1 if inside > 0 else -1)
            else:
                out[key] = math.nextafter(float(bound), inside)
    return out


def number_field(container: Any, model: type[BaseModel], name: str, value: Any, *, key: str,
                 label: str | None = None, **kw: Any) -> int | float | None:
    """A number input for ``model.name`` bounded by the model; ``value=None`` leaves it empty
    (an optional field: empty is None)."""
    kind = _number_type(model, name)
    kw.setdefault("help", model.model_fields[name].description)
    if kind is float:
        kw.setdefault("format", "%g")
    else:
        kw.setdefault("step", 1)
    got = container.number_input(label or name, value=None if value is None else kind(value), key=key,
                                 **field_bounds(model, name), **kw)
    return None if got is None else kind(got)


def slider_field(container: Any, model: type[BaseModel], name: str, value: Any, step: float, *, key: str,
                 label: str | None = None, **kw: Any) -> float:
    """A slider over the whole range the model allows for ``model.name`` (both bounds needed)."""
    bounds = field_bounds(model, name)
    kw.setdefault("help", model.model_fields[name].description)
    return float(container.slider(label or name, float(bounds["min_value"]), float(bounds["max_value"]),
                                  float(value), step, key=key, **kw))


def data_fraction_field(model: type[BaseModel], value: Any, *, key: str) -> float:
    """Every family's ``data_fraction`` (a stratified share of the training split), under its form."""
    col = st.columns(4)[0]
    return float(number_field(col, model, "data_fraction", value, key=key, label="data fraction", step=0.05))


def device_widgets(model: type[BaseModel], values: dict[str, Any], *, key: str, container: Any = None) -> None:
    """Where the run trains, in one row: ``device`` (text: auto, cpu, mps, cuda, cuda:N, 0,1),
    ``gpus`` (empty: from the device) and ``amp`` where the family has it. Writes into ``values``;
    the config model validates them (a bad device is refused naming it)."""
    fields = [name for name in DEVICE_FIELDS if name in model.model_fields]
    if not fields:
        return
    cols = (container or st).columns(len(fields))
    for col, name in zip(cols, fields):
        help_ = model.model_fields[name].description
        wkey = f"{key}-{name}"
        if name == "device":
            values[name] = col.text_input("device", value=str(values.get(name, model.model_fields[name].default)),
                                          key=wkey, help=help_).strip() or "auto"
        elif name == "gpus":
            values[name] = number_field(col, model, name, values.get(name), key=wkey, placeholder="from device")
        else:
            values[name] = col.checkbox(name, value=bool(values.get(name, model.model_fields[name].default)),
                                        key=wkey, help=help_)


def generic_form(model: type[BaseModel], defaults: dict[str, Any], *, key: str) -> dict[str, Any]:
    """Widgets for scalar fields (numbers, booleans, text, choices); other keys keep defaults
    and stay editable in the YAML editor."""
    values = dict(defaults)
    cols = st.columns(3)
    i = 0
    for name, field in model.model_fields.items():
        if name in DEVICE_FIELDS:
            continue
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
        elif (ann is int and isinstance(default, int)) or (ann is float and isinstance(default, (int, float))):
            values[name] = number_field(col, model, name, default, key=wkey)
        elif ann is str:
            values[name] = col.text_input(name, value=default or "", help=help_, key=wkey)
        else:
            continue
        i += 1
    device_widgets(model, values, key=key)
    return values


def form_yaml_text(family: Family, data: dict[str, Any]) -> str:
    """What the YAML editor shows for the form's data (the defaults file's comments kept); keys
    that are not config fields (launch-level ones such as ``age_groups``) come first."""
    fields = family.config_model.model_fields
    custom = family_form(family.key)
    return config_text(family, {k: v for k, v in data.items() if k in fields},
                       extra={k: v for k, v in data.items() if k not in fields} or None,
                       comments=getattr(custom, "YAML_COMMENTS", None))


def yaml_hint(family: Family) -> str:
    """What the family's form module says its launch-level YAML keys do ("" when it has none)."""
    return getattr(family_form(family.key), "YAML_HINT", "")
