"""Launch form for ``reid``: model, loss, optimisation and input size, the options practitioners
change most; every other key is editable in the YAML editor."""
from __future__ import annotations

from typing import Any

import streamlit as st

from engine.families.reid.config import MODELS, OPTIMIZERS, SCHEDULERS, TRANSFORMS

__all__ = ["render_form"]

_K = "reid-form"


def _choice(col, label: str, options, value, **kw) -> Any:
    options = list(options)
    return col.selectbox(label, options, index=options.index(value) if value in options else 0,
                         key=f"{_K}-{label}", **kw)


def _int(col, label: str, value: int, **kw) -> int:
    return int(col.number_input(label, value=int(value), step=1, key=f"{_K}-{label}", **kw))


def _float(col, label: str, value: float, **kw) -> float:
    return float(col.number_input(label, value=float(value), format="%g", key=f"{_K}-{label}", **kw))


def render_form(defaults: dict[str, Any]) -> dict[str, Any]:
    v = dict(defaults)
    c = st.columns(4)
    v["model"] = _choice(c[0], "model", MODELS, v["model"], help="x0_25 is smallest and fastest; ibn/ain generalise "
                                                                 "better across domains")
    v["loss"] = _choice(c[1], "loss", ("softmax", "triplet"), v["loss"],
                        help="triplet = weight_t x hard triplet + weight_x x softmax, with identity-balanced batches")
    v["device"] = _choice(c[2], "device", ("auto", "cpu", "cuda", "mps"), v["device"])
    v["weights"] = c[3].text_input("weights (models folder)", value=v.get("weights") or "", key=f"{_K}-weights",
                                   help="a file in the operator's models folder; empty starts from scratch") or None
    c = st.columns(4)
    v["epochs"] = _int(c[0], "epochs", v["epochs"], min_value=1)
    v["batch_size"] = _int(c[1], "batch_size", v["batch_size"], min_value=2)
    v["num_instances"] = _int(c[2], "num_instances", v["num_instances"], min_value=1,
                              help="images per identity in a triplet batch")
    v["eval_freq"] = _int(c[3], "eval_freq", v["eval_freq"], min_value=1, help="evaluate every N epochs")
    c = st.columns(4)
    v["optimizer"] = _choice(c[0], "optimizer", OPTIMIZERS, v["optimizer"])
    v["lr"] = _float(c[1], "lr", v["lr"], min_value=1e-7)
    v["scheduler"] = _choice(c[2], "scheduler", SCHEDULERS, v["scheduler"])
    v["stepsize"] = _int(c[3], "stepsize", v["stepsize"], min_value=1, help="single_step: epochs between decays")
    c = st.columns(4)
    v["height"] = _int(c[0], "height", v["height"], min_value=16)
    v["width"] = _int(c[1], "width", v["width"], min_value=8)
    v["margin"] = _float(c[2], "margin", v["margin"], min_value=0.0)
    v["label_smooth"] = c[3].checkbox("label_smooth", value=bool(v["label_smooth"]), key=f"{_K}-label_smooth")
    v["transforms"] = st.multiselect("transforms", list(TRANSFORMS), default=list(v["transforms"]),
                                     key=f"{_K}-transforms")
    with st.expander("Transfer from an earlier reid model"):
        c = st.columns(3)
        mv = _int(c[0], "init_model_version", v.get("init_model_version") or 0, min_value=0,
                  help="model version id (0: none); its backbone starts this run, the classifier is new")
        v["init_model_version"] = mv or None
        v["fixbase_epoch"] = _int(c[1], "fixbase_epoch", v["fixbase_epoch"], min_value=0,
                                  help="epochs during which only open_layers train")
        v["open_layers"] = c[2].multiselect("open_layers", ["classifier", "fc", "conv5", "conv4"],
                                            default=list(v["open_layers"]), key=f"{_K}-open_layers")
    return v
