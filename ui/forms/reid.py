"""Launch form for ``reid``: model, loss, optimisation and input size, the options practitioners
change most; every other key is editable in the YAML editor."""
from __future__ import annotations

from typing import Any

import streamlit as st

from engine.families.reid.config import MODELS, OPTIMIZERS, SCHEDULERS, TRANSFORMS, ReidConfig
from ui.catalog import base_model_choice
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
    v["weights"] = base_model_choice(c[3], "reid", v, v.get("weights"), key=f"{_K}-weights", label="weights",
                                     scratch_label="from scratch (pretrained=False)")
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
    c = st.columns([3, 1])
    v["transforms"] = c[0].multiselect("transforms", list(TRANSFORMS), default=list(v["transforms"]),
                                       key=f"{_K}-transforms")
    v["k_tfm"] = _num(c[1], "k_tfm", v["k_tfm"])
    with st.expander("Loss weights, schedule and mixed precision"):
        c = st.columns(4)
        v["weight_t"] = _num(c[0], "weight_t", v["weight_t"])
        v["weight_x"] = _num(c[1], "weight_x", v["weight_x"])
        v["eta_min"] = _num(c[2], "eta_min", v["eta_min"])
        v["restart_epoch"] = _num(c[3], "restart_epoch", v["restart_epoch"])
    with st.expander("Early stopping and evaluation"):
        c = st.columns(4)
        v["patience"] = _num(c[0], "patience", v["patience"])
        v["early_stop_metric"] = _choice(c[1], "early_stop_metric", ("rank1", "mAP"), v["early_stop_metric"])
        v["min_delta"] = _num(c[2], "min_delta", v["min_delta"])
        v["rerank"] = c[3].checkbox("rerank", value=bool(v["rerank"]), key=f"{_K}-rerank",
                                    help=ReidConfig.model_fields["rerank"].description)
        c = st.columns(4)
        v["visrank"] = c[0].checkbox("visrank", value=bool(v["visrank"]), key=f"{_K}-visrank",
                                     help=ReidConfig.model_fields["visrank"].description)
        v["visrank_topk"] = _num(c[1], "visrank_topk", v["visrank_topk"])
        v["visrank_queries"] = _num(c[2], "visrank_queries", v["visrank_queries"])
        v["use_metric_cuhk03"] = c[3].checkbox("use_metric_cuhk03", value=bool(v["use_metric_cuhk03"]),
                                               key=f"{_K}-use_metric_cuhk03",
                                               help=ReidConfig.model_fields["use_metric_cuhk03"].description)
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
