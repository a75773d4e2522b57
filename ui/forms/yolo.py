"""Launch form for ``yolo``: task, variant and the arguments practitioners change most; every
other key stays at its default here and is editable in the YAML editor."""
from __future__ import annotations

from typing import Any

import streamlit as st

from engine.families.yolo.config import ARCHS, TASKS, VARIANTS, YoloConfig

_OPTIMIZERS = list(YoloConfig.model_fields["optimizer"].annotation.__args__)
_VARIANT_HELP = {"n": "nano", "s": "small", "m": "medium", "l": "large", "x": "extra large"}


def _choice(col, label: str, options, default, key: str, **kw) -> Any:
    options = list(options)
    return col.selectbox(label, options, index=options.index(default) if default in options else 0, key=key, **kw)


def render_form(defaults: dict[str, Any]) -> dict[str, Any]:
    v = dict(defaults)
    k = "yolo-form"
    c = st.columns(4)
    v["task"] = _choice(c[0], "task", TASKS, v["task"], f"{k}-task")
    v["variant"] = _choice(c[1], "variant", VARIANTS, v["variant"], f"{k}-variant",
                           format_func=lambda x: f"{x} ({_VARIANT_HELP[x]})")
    v["arch"] = _choice(c[2], "architecture", ARCHS, v["arch"], f"{k}-arch")
    v["device"] = _choice(c[3], "device", ["auto", "cpu", "cuda", "mps"], v["device"], f"{k}-device")
    c = st.columns(4)
    v["epochs"] = int(c[0].number_input("epochs", min_value=1, value=int(v["epochs"]), key=f"{k}-epochs"))
    v["batch"] = int(c[1].number_input("batch", min_value=1, value=int(v["batch"]), key=f"{k}-batch"))
    v["imgsz"] = int(c[2].number_input("imgsz", min_value=32, step=32, value=int(v["imgsz"]), key=f"{k}-imgsz",
                                       help="640 is usual for detect/segment, 224 for classify"))
    v["patience"] = int(c[3].number_input("patience", min_value=0, value=int(v["patience"]), key=f"{k}-patience",
                                          help="stop after this many epochs without improvement"))
    c = st.columns(4)
    v["optimizer"] = _choice(c[0], "optimizer", _OPTIMIZERS, v["optimizer"], f"{k}-optimizer",
                             help="auto picks one by dataset size and ignores lr0")
    v["lr0"] = float(c[1].number_input("lr0", min_value=1e-6, value=float(v["lr0"]), format="%g", key=f"{k}-lr0"))
    v["lrf"] = float(c[2].number_input("lrf", min_value=1e-6, max_value=1.0, value=float(v["lrf"]), format="%g",
                                       key=f"{k}-lrf"))
    v["seed"] = int(c[3].number_input("seed", value=int(v["seed"]), key=f"{k}-seed"))
    c = st.columns(4)
    v["workers"] = int(c[0].number_input("workers", min_value=0, value=int(v["workers"]), key=f"{k}-workers"))
    v["train_ratio"] = float(c[1].slider("train ratio (no val split)", 0.5, 0.95, float(v["train_ratio"]), 0.05,
                                         key=f"{k}-ratio"))
    v["min_per_class"] = int(c[2].number_input("min training images per class", min_value=0,
                                               value=int(v["min_per_class"]), key=f"{k}-min",
                                               help="launch gate: images of the train split holding each class"))
    v["model"] = c[3].text_input("start from .pt (optional)", value=v.get("model") or "", key=f"{k}-model",
                                 help="a local weights file on the workers; empty builds the model from its yaml") or None
    with st.expander("Augmentation"):
        c = st.columns(4)
        for i, name in enumerate(("hsv_h", "hsv_s", "hsv_v", "degrees", "translate", "scale", "shear", "flipud",
                                  "fliplr", "mosaic", "mixup", "copy_paste")):
            v[name] = float(c[i % 4].number_input(name, min_value=0.0, value=float(v[name]), format="%g",
                                                  key=f"{k}-{name}"))
    return v
