"""Launch form for ``anomaly``: the age groups to train (one run each) and the autoencoder and
training options practitioners change most; every other key is editable in the YAML editor.

Several groups launch as ``age_groups`` in place of ``age_group`` (``AnomalyConfig.expand``: one
run per group, each named by its group); the YAML editor and the CLI's ``--age-groups`` take the
same key. It is a launch-level key, not a config field."""
from __future__ import annotations

from typing import Any

import streamlit as st

from engine.families.anomaly.config import TINY_BACKBONE, AnomalyConfig, parse_age_groups
from ui.catalog import base_model_choice
from ui.forms import device_widgets, number_field

__all__ = ["render_form", "clone_defaults", "YAML_COMMENTS", "YAML_HINT"]

YAML_COMMENTS = {"age_groups": "(list of LO-HI, or auto) one run per age group; use age_group for a single one"}
YAML_HINT = "`age_groups: [3-6, 6-9]` (or `auto`: from the dataset's ages) launches one run per age group."

_K = "anomaly-form"


def _choices(name: str) -> list[str]:
    return list(AnomalyConfig.model_fields[name].annotation.__args__)


def _select(col, name: str, value: Any, **kw) -> Any:
    options = _choices(name)
    return col.selectbox(name, options, index=options.index(value) if value in options else 0, key=f"{_K}-{name}", **kw)


DEFAULT_GROUPS = "3-6,6-9,9-12"


def clone_defaults(config: dict[str, Any]) -> dict[str, Any]:
    """A cloned run's config (or a prefill, e.g. an applied merge suggestion) as this form's
    defaults: its ``age_groups``, else its one age group, is what to launch."""
    groups = config.get("age_groups")
    if isinstance(groups, (list, tuple)):
        groups = ",".join(map(str, groups))
    return {**config, "age_groups": groups or config.get("age_group") or DEFAULT_GROUPS}


def _num(col, name: str, value: Any, **kw) -> Any:
    return number_field(col, AnomalyConfig, name, value, key=f"{_K}-{name}", **kw)


def render_form(defaults: dict[str, Any]) -> dict[str, Any]:
    """The launch's config data: ``age_group`` for one group, ``age_groups`` for several (the
    config's ``expand`` makes one run of each)."""
    v = dict(defaults)
    groups_default = v.pop("age_groups", DEFAULT_GROUPS)
    c = st.columns([2, 1, 2])
    groups_text = c[0].text_input("age groups", value=groups_default, key=f"{_K}-groups",
                                  help="Comma-separated LO-HI ranges in years; one run (one model) per group")
    v["min_samples"] = _num(c[1], "min_samples", v["min_samples"],
                            help="fewest normal drawings per group (50 recommended)")
    v["backbone"] = base_model_choice(c[2], "anomaly", v, v["backbone"], key=f"{_K}-backbone", label="backbone",
                                      scratch_label="tiny-vit (random-init demo features)",
                                      scratch_value=TINY_BACKBONE)
    st.markdown("**Autoencoder**")
    c = st.columns(5)
    dims = c[0].text_input("hidden_dims", value=",".join(map(str, v["hidden_dims"])), key=f"{_K}-dims",
                           help="encoder widths, e.g. 256,128; the decoder mirrors them")
    try:
        v["hidden_dims"] = [int(x) for x in dims.split(",") if x.strip()]
    except ValueError:
        v["hidden_dims"] = dims  # the validator names the key
    v["latent_dim"] = _num(c[1], "latent_dim", v["latent_dim"])
    v["dropout"] = _num(c[2], "dropout", v["dropout"], step=0.05)
    v["activation"] = _select(c[3], "activation", v["activation"])
    v["batch_norm"] = c[4].checkbox("batch_norm", value=bool(v["batch_norm"]), key=f"{_K}-bn")
    st.markdown("**Training**")
    c = st.columns(5)
    v["optimizer"] = _select(c[0], "optimizer", v["optimizer"])
    v["lr"] = _num(c[1], "lr", v["lr"])
    v["weight_decay"] = _num(c[2], "weight_decay", v["weight_decay"])
    v["scheduler"] = _select(c[3], "scheduler", v["scheduler"])
    v["embed_batch_size"] = _num(c[4], "embed_batch_size", v["embed_batch_size"])
    c = st.columns(5)
    v["epochs"] = _num(c[0], "epochs", v["epochs"])
    v["batch_size"] = _num(c[1], "batch_size", v["batch_size"])
    v["patience"] = _num(c[2], "patience", v["patience"],
                         help="early stopping: epochs without val improvement (0: off)")
    v["grad_clip"] = _num(c[3], "grad_clip", v["grad_clip"])
    v["threshold_percentile"] = _num(c[4], "threshold_percentile", v["threshold_percentile"],
                                     label="threshold percentile")
    c = st.columns(5)
    v["T_max"] = _num(c[0], "T_max", v["T_max"], help="cosine: epochs to the lowest learning rate (0: epochs)")
    v["step_size"] = _num(c[1], "step_size", v["step_size"])
    v["gamma"] = _num(c[2], "gamma", v["gamma"])
    v["age_group_size"] = _num(c[3], "age_group_size", v["age_group_size"], step=0.5)
    v["stratify_by_age"] = c[4].checkbox("stratify_by_age", value=bool(v["stratify_by_age"]), key=f"{_K}-strat",
                                         help=AnomalyConfig.model_fields["stratify_by_age"].description)
    st.markdown("**Monitoring and resources**")
    c = st.columns(5)
    v["validation_frequency"] = _num(c[0], "validation_frequency", v["validation_frequency"])
    v["checkpoint_frequency"] = _num(c[1], "checkpoint_frequency", v["checkpoint_frequency"])
    v["log_frequency"] = _num(c[2], "log_frequency", v["log_frequency"])
    v["plot_frequency"] = _num(c[3], "plot_frequency", v["plot_frequency"])
    v["save_plots"] = c[4].checkbox("save_plots", value=bool(v["save_plots"]), key=f"{_K}-plots",
                                    help=AnomalyConfig.model_fields["save_plots"].description)
    c = st.columns(5)
    v["num_workers"] = _num(c[0], "num_workers", v["num_workers"])
    v["cpu_threads"] = _num(c[1], "cpu_threads", v["cpu_threads"])
    v["pin_memory"] = c[2].checkbox("pin_memory", value=bool(v["pin_memory"]), key=f"{_K}-pin",
                                    help=AnomalyConfig.model_fields["pin_memory"].description)
    device_widgets(AnomalyConfig, v, key=_K)
    try:
        groups = [g.label for g in parse_age_groups(groups_text)]
    except ValueError as exc:
        st.error(str(exc))
        return {**v, "age_group": groups_text}  # validation then names age_group and nothing is queued
    st.caption(f"Launching queues {len(groups)} run(s): " + ", ".join(groups))
    if len(groups) == 1:
        return {**v, "age_group": groups[0]}
    return {**{k: x for k, x in v.items() if k != "age_group"}, "age_groups": groups}
