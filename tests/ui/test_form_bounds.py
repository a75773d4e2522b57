"""Form bounds come from the config model: every number input and slider of every family's launch
form has exactly the bounds the model's field allows (``ge``/``gt``/``le``/``lt``; an exclusive
bound is the nearest value inside it), so a form never refuses what the model accepts, nor offers
what it refuses."""
from __future__ import annotations

import math

import pytest
from streamlit.testing.v1 import AppTest

from engine.families import FAMILIES
from ui.forms import family_form

SCRIPT = """
from engine.configs import default_config
from engine.families import FAMILIES
from ui.forms import family_form, generic_form
family = FAMILIES[{key!r}]
custom = family_form(family.key)
defaults = default_config(family)
custom.render_form(defaults) if custom else generic_form(family.config_model, defaults, key=family.key)
"""


def _expected(field, kind) -> tuple[float | None, float | None]:
    lo = hi = None
    for meta in field.metadata:
        if getattr(meta, "ge", None) is not None:
            lo = meta.ge
        if getattr(meta, "gt", None) is not None:
            lo = meta.gt + 1 if kind is int else math.nextafter(meta.gt, math.inf)
        if getattr(meta, "le", None) is not None:
            hi = meta.le
        if getattr(meta, "lt", None) is not None:
            hi = meta.lt - 1 if kind is int else math.nextafter(meta.lt, -math.inf)
    return lo, hi


@pytest.mark.parametrize("key", list(FAMILIES))
def test_every_number_widget_has_the_models_bounds(key):
    model = FAMILIES[key].config_model
    prefix = f"{key}-form-" if family_form(key) else f"{key}-"
    at = AppTest.from_string(SCRIPT.format(key=key), default_timeout=60).run()
    assert not at.exception, [e.message for e in at.exception]
    widgets = [*at.number_input, *at.slider]
    assert widgets, f"{key}: the form has no number widget"
    for widget in widgets:
        assert widget.key.startswith(prefix), widget.key
        name = widget.key[len(prefix):]
        assert name in model.model_fields, f"{widget.key} is not named after a config field"
        field = model.model_fields[name]
        kind = float if field.annotation is float else int  # int | None counts as int
        assert (widget.min, widget.max) == _expected(field, kind), f"{key}.{name}"
