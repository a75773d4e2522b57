"""Try an active model: pick a family (and, where it has several, the task or scope), see the
model's headline metrics, then the family's own try-out view (``ui/tryout/<family>.py``)."""
from __future__ import annotations

import streamlit as st

from db import queries
from db.session import session_scope
from engine.families import FAMILIES
from ui import optional_module
from ui.page import page

page("Try a model")
st.title("Try an active model")


def _model_label(model) -> str:
    where = " · ".join(p for p in (model.task, model.scope) if p)
    return f"#{model.id}" + (f" · {where}" if where else "") + f" (run #{model.run_id})"


def _value(value) -> str:
    return f"{value:.4g}" if isinstance(value, (int, float)) else str(value)


with session_scope() as s:
    active = queries.list_model_versions(session=s, active_only=True)
by_family: dict[str, list] = {}
for m in active:
    if m.family in FAMILIES:
        by_family.setdefault(m.family, []).append(m)
families = [k for k in FAMILIES if k in by_family]  # registry order
if not families:
    st.info("No active model yet: train one on the Launch page (a completed run's model becomes active).")
    st.stop()

wanted = st.query_params.get("family")
top = st.columns([1, 2])
key = top[0].selectbox("Family", families, index=families.index(wanted) if wanted in families else 0,
                       format_func=lambda k: f"{k} — {FAMILIES[k].title}", key="try-family")
models = sorted(by_family[key], key=lambda m: (m.task or "", m.scope))
model = top[1].selectbox("Model", models, format_func=_model_label, key=f"try-model-{key}",
                         disabled=len(models) == 1)
family = FAMILIES[key]

metrics = model.metrics or {}
heads = [h for h in family.headlines_for(model.task) if h.name in metrics]
tiles = st.columns(max(len(heads), 1) + 1)
tiles[0].metric("model version", f"#{model.id}", help=f"run #{model.run_id}")
for tile, h in zip(tiles[1:], heads):
    tile.metric(h.label or h.name, _value(metrics[h.name]),
                help=f"{h.name} ({'lower' if h.direction == 'min' else 'higher'} is better)")

view = optional_module(f"ui.tryout.{key}")
if view is None or not hasattr(view, "render_try"):
    st.info(f"The {key} family has no try-out view yet; its metrics are on the Results page.")
    st.stop()
view.render_try(model)
