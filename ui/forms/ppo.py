"""Launch form for ``ppo``: training length, the PPO options practitioners change most, the
episode and the curriculum; every other key stays at its default and is editable in the YAML editor."""
from __future__ import annotations

from typing import Any

import streamlit as st

from engine.families.ppo.config import CATEGORIES, PpoConfig
from ui.catalog import base_model_choice
from ui.forms import device_widgets, number_field, slider_field

_K = "ppo-form"


def _num(col, name: str, value: Any, label: str, **kw) -> Any:
    return number_field(col, PpoConfig, name, value, key=f"{_K}-{name}", label=label, **kw)


def _slider(col, name: str, value: Any, label: str, step: float) -> float:
    return slider_field(col, PpoConfig, name, value, step, key=f"{_K}-{name}", label=label)


def _select(col, name: str, value: Any, label: str) -> Any:
    options = list(PpoConfig.model_fields[name].annotation.__args__)
    return col.selectbox(label, options, index=options.index(value) if value in options else 0, key=f"{_K}-{name}",
                         help=PpoConfig.model_fields[name].description)


def render_form(defaults: dict[str, Any]) -> dict[str, Any]:
    v = dict(defaults)
    c = st.columns(4)
    v["total_timesteps"] = _num(c[0], "total_timesteps", v["total_timesteps"], "total timesteps", step=1024)
    v["learning_rate"] = _num(c[1], "learning_rate", v["learning_rate"], "learning rate")
    v["n_steps"] = _num(c[2], "n_steps", v["n_steps"], "n_steps (per rollout)")
    v["batch_size"] = _num(c[3], "batch_size", v["batch_size"], "batch size")
    c = st.columns(4)
    v["gamma"] = _num(c[0], "gamma", v["gamma"], "gamma")
    v["ent_coef"] = _num(c[1], "ent_coef", v["ent_coef"], "entropy coef")
    v["n_envs"] = _num(c[2], "n_envs", v["n_envs"], "environments")
    v["seed"] = _num(c[3], "seed", v["seed"], "seed")
    st.markdown("**Episode and targets**")
    c = st.columns(4)
    v["max_steps"] = _num(c[0], "max_steps", v["max_steps"], "max steps per episode")
    v["size_penalty"] = _num(c[1], "size_penalty", v["size_penalty"], "size penalty")
    v["time_penalty"] = _num(c[2], "time_penalty", v["time_penalty"], "time penalty")
    v["success_bonus"] = _num(c[3], "success_bonus", v["success_bonus"], "success bonus")
    c = st.columns(4)
    for col, cat in zip(c, CATEGORIES):
        v[f"target_{cat}"] = _slider(col, f"target_{cat}", v[f"target_{cat}"], f"target SSIM: {cat}", 0.01)
    st.markdown("**Curriculum**")
    c = st.columns(4)
    v["curriculum"] = c[0].checkbox("curriculum", value=bool(v["curriculum"]), key=f"{_K}-curriculum")
    v["curriculum_order"] = c[1].multiselect("stage order", list(CATEGORIES), default=list(v["curriculum_order"]),
                                             key=f"{_K}-order")
    v["advance_success_rate"] = _slider(c[2], "advance_success_rate", v["advance_success_rate"],
                                        "advance at success rate", 0.05)
    v["eval_freq"] = _num(c[3], "eval_freq", v["eval_freq"], "validate every (timesteps)")
    v["init_weights"] = base_model_choice(st, "ppo", v, v.get("init_weights"), key=f"{_K}-init_weights",
                                          label="start from policy", scratch_label="from scratch (a fresh policy)")
    st.markdown("**Validation and checkpoints**")
    c = st.columns(4)
    v["eval_episodes"] = _num(c[0], "eval_episodes", v["eval_episodes"], "episodes per image")
    v["eval_variation"] = _select(c[1], "eval_variation", v["eval_variation"], "episodes differ by")
    v["start_perturbation"] = _num(c[2], "start_perturbation", v["start_perturbation"], "start perturbation")
    v["monitor_metric"] = _select(c[3], "monitor_metric", v["monitor_metric"], "monitored metric (val/…)")
    c = st.columns(4)
    v["eval_patience"] = _num(c[0], "eval_patience", v["eval_patience"], "early stopping patience (validations)")
    v["checkpoint_freq"] = _num(c[1], "checkpoint_freq", v["checkpoint_freq"], "checkpoint every (timesteps)")
    v["checkpoint_every_s"] = _num(c[2], "checkpoint_every_s", v["checkpoint_every_s"], "… or every (seconds)")
    with c[3]:
        for name, label in (("stage_checkpoints", "checkpoint at each stage"), ("eval_reports", "validation reports"),
                            ("eval_plots", "validation plots")):
            v[name] = st.checkbox(label, value=bool(v[name]), key=f"{_K}-{name}",
                                  help=PpoConfig.model_fields[name].description)
    device_widgets(PpoConfig, v, key=_K)
    return v
