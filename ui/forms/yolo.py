"""Launch form for ``yolo``: task, variant and the arguments practitioners change most; every
other key stays at its default here and is editable in the YAML editor."""
from __future__ import annotations

from typing import Any

import streamlit as st

from engine.families.yolo.config import ARCHS, TASKS, VARIANTS, YoloConfig
from ui.catalog import base_model_choice
from ui.forms import device_widgets, number_field

_OPTIMIZERS = list(YoloConfig.model_fields["optimizer"].annotation.__args__)
_VARIANT_HELP = {"n": "nano", "s": "small", "m": "medium", "l": "large", "x": "extra large"}


def _choice(col, label: str, options, default, key: str, **kw) -> Any:
    options = list(options)
    return col.selectbox(label, options, index=options.index(default) if default in options else 0, key=key, **kw)


def _num(col, name: str, value: Any, key: str, **kw) -> Any:
    return number_field(col, YoloConfig, name, value, key=key, **kw)


def parse_renames(text: str) -> dict[str, str]:
    """``"a: b, c: d"`` → ``{"a": "b", "c": "d"}``; a piece without a colon is kept as ``{piece: ""}``
    so that validation names it instead of it vanishing."""
    out: dict[str, str] = {}
    for piece in text.split(","):
        if not piece.strip():
            continue
        old, _, new = piece.partition(":")
        out[old.strip()] = new.strip()
    return out


def render_form(defaults: dict[str, Any]) -> dict[str, Any]:
    v = dict(defaults)
    k = "yolo-form"
    c = st.columns(3)
    v["task"] = _choice(c[0], "task", TASKS, v["task"], f"{k}-task")
    v["variant"] = _choice(c[1], "variant", VARIANTS, v["variant"], f"{k}-variant",
                           format_func=lambda x: f"{x} ({_VARIANT_HELP[x]})")
    v["arch"] = _choice(c[2], "architecture", ARCHS, v["arch"], f"{k}-arch")
    device_widgets(YoloConfig, v, key=k)
    c = st.columns(4)
    v["epochs"] = _num(c[0], "epochs", v["epochs"], f"{k}-epochs")
    v["batch"] = _num(c[1], "batch", v["batch"], f"{k}-batch")
    v["imgsz"] = _num(c[2], "imgsz", v.get("imgsz"), f"{k}-imgsz", step=32, placeholder="by task",
                      help="empty: 224 for classify, 640 for detect/segment")
    v["patience"] = _num(c[3], "patience", v["patience"], f"{k}-patience",
                         help="stop after this many epochs without improvement")
    c = st.columns(4)
    v["optimizer"] = _choice(c[0], "optimizer", _OPTIMIZERS, v["optimizer"], f"{k}-optimizer",
                             help="auto picks one by dataset size and ignores lr0")
    v["lr0"] = _num(c[1], "lr0", v["lr0"], f"{k}-lr0")
    v["lrf"] = _num(c[2], "lrf", v["lrf"], f"{k}-lrf")
    v["seed"] = _num(c[3], "seed", v["seed"], f"{k}-seed")
    c = st.columns(4)
    v["workers"] = _num(c[0], "workers", v["workers"], f"{k}-workers")
    v["train_ratio"] = _num(c[1], "train_ratio", v["train_ratio"], f"{k}-train_ratio", step=0.05,
                            label="train ratio (no val split)")
    v["min_per_class"] = _num(c[2], "min_per_class", v["min_per_class"], f"{k}-min_per_class",
                              label="min training images per class",
                              help="launch gate: images of the train split holding each class")
    v["model"] = base_model_choice(c[3], "yolo", v, v.get("model"), key=f"{k}-model",
                                   scratch_label=f"from scratch ({v['arch']}{v['variant']} yaml)")
    c = st.columns(2)
    classes = c[0].text_input("classes (optional)", value=", ".join(v.get("classes") or []), key=f"{k}-classes",
                              help="comma-separated class names to train on (after the renames); empty: all. "
                                   "Labels of other classes are dropped")
    v["classes"] = [x.strip() for x in classes.split(",") if x.strip()]
    renames = c[1].text_input("rename classes (optional)", key=f"{k}-class_map",
                              value=", ".join(f"{a}: {b}" for a, b in (v.get("class_map") or {}).items()),
                              help="old: new, comma-separated (e.g. 'auto: car, truck: car' merges both into car); "
                                   "classes of combined datasets are matched by name")
    v["class_map"] = parse_renames(renames)
    with st.expander("Augmentation"):
        c = st.columns(4)
        for i, name in enumerate(("hsv_h", "hsv_s", "hsv_v", "degrees", "translate", "scale", "shear", "flipud",
                                  "fliplr", "mosaic", "mixup", "copy_paste")):
            v[name] = _num(c[i % 4], name, v[name], f"{k}-{name}")
    return v
