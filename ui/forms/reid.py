"""Launch form for ``reid``: model, loss, optimisation and input size, the options practitioners
change most; every other key is editable in the YAML editor."""
from __future__ import annotations

from typing import Any

import streamlit as st

from engine.families.reid.config import MODELS, OPTIMIZERS, SCHEDULERS, TRANSFORMS, ReidConfig
from ui.forms import device_widgets, number_field

__all__ = ["render_form"]

_K = "reid-form"


def _choice(col, label: str, options, value, **kw) -> Any:
    options = list(options)
    return col.selectbox(label, options, index=options.index(value) if value in options else 0,
                         key=f"{_K}-{label}", **kw)


def _num(col, name: str, value: Any, **kw) -> Any:
    return number_field(col, ReidConfig, name, value, key=f"{_K}-{name}", **kw)


def render_form(defaults: dict[str, Any]) -> dict[str, Any]:
    v = dict(defaults)
    c = st.columns(4)
    v["model"] = _choice(c[0], "model", MODELS, v["model"], help="x0_25 is smallest and fastest; ibn/ain generalise "
                                                                 "better across domains")
    v["loss"] = _choice(c[1], "loss", ("softmax", "triplet"), v["loss"],
                        help="triplet = weight_t x hard triplet + weight_x x softmax, with identity-balanced batches")
    v["sampler"] = _choice(c[2], "sampler", ("auto", "RandomSampler", "RandomIdentitySampler"), v["sampler"])
    v["weights"] = c[3].text_input("weights (models folder)", value=v.get("weights") or "", key=f"{_K}-weights",
                                   help="a file in the operator's models folder; empty starts from scratch") or None
    c = st.columns(4)
    v["epochs"] = _num(c[0], "epochs", v["epochs"])
    v["batch_size"] = _num(c[1], "batch_size", v["batch_size"])
    v["num_instances"] = _num(c[2], "num_instances", v["num_instances"],
                              help="images per identity in a triplet batch")
    v["eval_freq"] = _num(c[3], "eval_freq", v["eval_freq"], help="evaluate every N epochs")
    c = st.columns(4)
    v["optimizer"] = _choice(c[0], "optimizer", OPTIMIZERS, v["optimizer"])
    v["lr"] = _num(c[1], "lr", v["lr"])
    v["scheduler"] = _choice(c[2], "scheduler", SCHEDULERS, v["scheduler"])
    v["stepsize"] = _num(c[3], "stepsize", v["stepsize"], help="single_step: epochs between decays")
    c = st.columns(4)
    v["height"] = _num(c[0], "height", v["height"])
    v["width"] = _num(c[1], "width", v["width"])
    v["margin"] = _num(c[2], "margin", v["margin"])
    v["label_smooth"] = c[3].checkbox("label_smooth", value=bool(v["label_smooth"]), key=f"{_K}-label_smooth")
    v["transforms"] = st.multiselect("transforms", list(TRANSFORMS), default=list(v["transforms"]),
                                     key=f"{_K}-transforms")
    device_widgets(ReidConfig, v, key=_K)
    with st.expander("Transfer from an earlier reid model"):
        c = st.columns(3)
        v["init_version"] = _num(c[0], "init_version", v.get("init_version"),
                                       placeholder="none",
                                       help="model version id (empty: none); its backbone starts this run, "
                                            "the classifier is new")
        v["fixbase_epoch"] = _num(c[1], "fixbase_epoch", v["fixbase_epoch"],
                                  help="epochs during which only open_layers train")
        v["open_layers"] = c[2].multiselect("open_layers", ["classifier", "fc", "conv5", "conv4"],
                                            default=list(v["open_layers"]), key=f"{_K}-open_layers")
    return v
