"""Launch form for ``transition``: the split (automatic by ratios, or manual patient lists picked
from the dataset's patient folders), the model and training options practitioners change most,
data loading, the debug subset and the pre-training disk check; every other key stays editable
in the YAML editor."""
from __future__ import annotations

from typing import Any

import streamlit as st

from engine.families.transition.config import TransitionConfig
from ui.forms import device_widgets, number_field

__all__ = ["render_form", "patients_of"]

_K = "transition-form"
LISTS = ("train_patients", "val_patients", "test_patients")


def patients_of(dataset: Any) -> list[str]:
    """The patient folders of a transitions dataset (its samples' labels), sorted."""
    if dataset is None or getattr(dataset, "id", None) is None:
        return []
    from db import queries
    from db.session import session_scope

    with session_scope() as s:
        return sorted({smp.label for smp in queries.dataset_samples(session=s, dataset_id=dataset.id) if smp.label})


def _num(col, name: str, value: Any, **kw) -> Any:
    return number_field(col, TransitionConfig, name, value, key=f"{_K}-{name}", **kw)


def _select(col, name: str, value: Any) -> Any:
    options = list(TransitionConfig.model_fields[name].annotation.__args__)
    return col.selectbox(name, options, index=options.index(value) if value in options else 0, key=f"{_K}-{name}",
                         help=TransitionConfig.model_fields[name].description)


def _check(col, name: str, value: Any) -> bool:
    return col.checkbox(name, value=bool(value), key=f"{_K}-{name}", help=TransitionConfig.model_fields[name].description)


def render_form(defaults: dict[str, Any], dataset: Any = None) -> dict[str, Any]:
    v = dict(defaults)
    st.markdown("**Split by patient**")
    v["manual_splits"] = _check(st, "manual_splits", v["manual_splits"])
    if v["manual_splits"]:
        patients = patients_of(dataset)
        if not patients:
            st.warning("Choose a transitions dataset to pick its patients from (or write the lists in the YAML editor).")
        c = st.columns(3)
        taken: dict[str, str] = {}
        for col, name in zip(c, LISTS):
            chosen = [p for p in v.get(name) or [] if p in patients]
            v[name] = col.multiselect(name, patients, default=chosen, key=f"{_K}-{name}",
                                      help=TransitionConfig.model_fields[name].description)
            for p in v[name]:
                taken.setdefault(p, name)
        unused = [p for p in patients if p not in taken]
        if unused:
            st.caption("Not in any split (not used): " + ", ".join(unused))
    else:
        c = st.columns(3)
        for col, name in zip(c, ("train_ratio", "val_ratio", "test_ratio")):
            v[name] = _num(col, name, v[name], step=0.05)
    st.markdown("**Model and training**")
    c = st.columns(5)
    v["image_size"] = _num(c[0], "image_size", v["image_size"])
    v["d_model"] = _num(c[1], "d_model", v["d_model"])
    v["num_heads"] = _num(c[2], "num_heads", v["num_heads"])
    v["num_layers"] = _num(c[3], "num_layers", v["num_layers"])
    v["token_type"] = _select(c[4], "token_type", v["token_type"])
    c = st.columns(5)
    v["lr"] = _num(c[0], "lr", v["lr"])
    v["batch_size"] = _num(c[1], "batch_size", v["batch_size"])
    v["max_epochs"] = _num(c[2], "max_epochs", v["max_epochs"])
    v["early_stop_patience"] = _num(c[3], "early_stop_patience", v["early_stop_patience"])
    v["seed"] = _num(c[4], "seed", v["seed"])
    c = st.columns(5)
    v["optimizer"] = _select(c[0], "optimizer", v["optimizer"])
    v["scheduler"] = _select(c[1], "scheduler", v["scheduler"])
    v["precision"] = _select(c[2], "precision", v["precision"])
    v["select_model"] = _select(c[3], "select_model", v["select_model"])
    device_widgets(TransitionConfig, v, key=_K)
    st.markdown("**Data loading and checks**")
    c = st.columns(5)
    v["num_workers"] = _num(c[0], "num_workers", v["num_workers"])
    v["persistent_workers"] = _check(c[1], "persistent_workers", v["persistent_workers"])
    v["debug_fraction"] = _num(c[2], "debug_fraction", v["debug_fraction"], step=0.05)
    v["min_free_disk_mb"] = _num(c[3], "min_free_disk_mb", v["min_free_disk_mb"])
    v["min_samples_per_group"] = _num(c[4], "min_samples_per_group", v["min_samples_per_group"])
    return v
