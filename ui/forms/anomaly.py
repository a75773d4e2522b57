"""Launch form for ``anomaly``: the age groups to train (one run each) and the autoencoder and
training options practitioners change most; every other key is editable in the YAML editor.

The Launch page's YAML editor also takes ``age_groups`` (a list such as ``["3-6", "6-9"]`` or a
comma string ``"3-6,6-9"``) in place of ``age_group``: one run per group, each named by its group.
It is a page-level key, not a config field: the CLI has ``--age-groups`` for the same thing."""
from __future__ import annotations

from typing import Any

import streamlit as st

from engine.configs import ConfigError, FieldError, config_text
from engine.core import Family
from engine.families.anomaly.config import AnomalyConfig, parse_age_groups

__all__ = ["render_form", "yaml_text", "expand_yaml", "run_label", "clone_defaults"]

_K = "anomaly-form"


def _choices(name: str) -> list[str]:
    return list(AnomalyConfig.model_fields[name].annotation.__args__)


def _select(col, name: str, value: Any, **kw) -> Any:
    options = _choices(name)
    return col.selectbox(name, options, index=options.index(value) if value in options else 0, key=f"{_K}-{name}", **kw)


DEFAULT_GROUPS = "3-6,6-9,9-12"


def clone_defaults(config: dict[str, Any]) -> dict[str, Any]:
    """A cloned run's config as this form's defaults: its one age group is the group to launch."""
    return {**config, "age_groups": config.get("age_group") or DEFAULT_GROUPS}


def render_form(defaults: dict[str, Any]) -> list[dict[str, Any]]:
    v = dict(defaults)
    groups_default = v.pop("age_groups", DEFAULT_GROUPS)
    c = st.columns([2, 1, 2])
    groups_text = c[0].text_input("age groups", value=groups_default, key=f"{_K}-groups",
                                  help="Comma-separated LO-HI ranges in years; one run (one model) per group")
    v["min_samples"] = int(c[1].number_input("min_samples", min_value=1, value=int(v["min_samples"]),
                                             key=f"{_K}-min", help="fewest normal drawings per group (50 recommended)"))
    v["backbone"] = c[2].text_input("backbone", value=v["backbone"], key=f"{_K}-backbone",
                                    help="tiny-vit (offline demo), google/vit-base-patch16-224-in21k (production) "
                                         "or a local folder")
    st.markdown("**Autoencoder**")
    c = st.columns(5)
    dims = c[0].text_input("hidden_dims", value=",".join(map(str, v["hidden_dims"])), key=f"{_K}-dims",
                           help="encoder widths, e.g. 256,128; the decoder mirrors them")
    try:
        v["hidden_dims"] = [int(x) for x in dims.split(",") if x.strip()]
    except ValueError:
        v["hidden_dims"] = dims  # the validator names the key
    v["latent_dim"] = int(c[1].number_input("latent_dim", min_value=1, value=int(v["latent_dim"]), key=f"{_K}-latent"))
    v["dropout"] = float(c[2].number_input("dropout", min_value=0.0, max_value=0.95, value=float(v["dropout"]),
                                           step=0.05, key=f"{_K}-dropout"))
    v["activation"] = _select(c[3], "activation", v["activation"])
    v["batch_norm"] = c[4].checkbox("batch_norm", value=bool(v["batch_norm"]), key=f"{_K}-bn")
    st.markdown("**Training**")
    c = st.columns(5)
    v["optimizer"] = _select(c[0], "optimizer", v["optimizer"])
    v["lr"] = float(c[1].number_input("lr", min_value=1e-7, value=float(v["lr"]), format="%g", key=f"{_K}-lr"))
    v["weight_decay"] = float(c[2].number_input("weight_decay", min_value=0.0, value=float(v["weight_decay"]),
                                                format="%g", key=f"{_K}-wd"))
    v["scheduler"] = _select(c[3], "scheduler", v["scheduler"])
    v["device"] = _select(c[4], "device", v["device"])
    c = st.columns(5)
    v["epochs"] = int(c[0].number_input("epochs", min_value=1, value=int(v["epochs"]), key=f"{_K}-epochs"))
    v["batch_size"] = int(c[1].number_input("batch_size", min_value=1, value=int(v["batch_size"]), key=f"{_K}-bs"))
    v["patience"] = int(c[2].number_input("patience", min_value=0, value=int(v["patience"]), key=f"{_K}-patience",
                                          help="early stopping: epochs without val improvement (0: off)"))
    v["grad_clip"] = float(c[3].number_input("grad_clip", min_value=0.0, value=float(v["grad_clip"]), format="%g",
                                             key=f"{_K}-clip"))
    v["threshold_percentile"] = float(c[4].number_input("threshold percentile", min_value=50.0, max_value=99.9,
                                                        value=float(v["threshold_percentile"]), key=f"{_K}-pct"))
    try:
        groups = [g.label for g in parse_age_groups(groups_text)]
    except ValueError as exc:
        st.error(str(exc))
        return [{**v, "age_group": groups_text}]  # validation then names age_group and nothing is queued
    st.caption(f"Launching queues {len(groups)} run(s): " + ", ".join(groups))
    return [{**v, "age_group": g} for g in groups]


def yaml_text(family: Family, configs: list[dict[str, Any]]) -> str:
    """One group: the plain config. Several: ``age_groups`` listing them and every other key once."""
    if len(configs) == 1:
        return config_text(family, configs[0])
    values = {k: v for k, v in configs[0].items() if k != "age_group"}
    return config_text(family, values, extra={"age_groups": [c["age_group"] for c in configs]},
                       comments={"age_groups": "(list of LO-HI) Launch page: one run per age group; "
                                               "use age_group for a single one"})


def expand_yaml(data: Any) -> list[Any]:
    """``age_groups`` → one config per group (``age_group`` set); anything else unchanged."""
    if not isinstance(data, dict) or "age_groups" not in data:
        return [data]
    rest = {k: v for k, v in data.items() if k != "age_groups"}
    if "age_group" in rest:
        raise ConfigError("anomaly", [FieldError("age_groups", "give age_group or age_groups, not both")], "YAML")
    groups = data["age_groups"]
    text = ",".join(map(str, groups)) if isinstance(groups, list) else str(groups)
    try:
        ranges = parse_age_groups(text)
    except ValueError as exc:
        raise ConfigError("anomaly", [FieldError("age_groups", str(exc))], "YAML") from None
    return [{**rest, "age_group": g.label} for g in ranges]


def run_label(config: Any) -> str:
    """Runs are told apart by their age group: "anomaly 3-6"."""
    return str(config.age_group)
