"""Launch form for ``ppo``: training length, the PPO options practitioners change most, the
episode and the curriculum; every other key stays at its default and is editable in the YAML editor."""
from __future__ import annotations

from typing import Any

import streamlit as st

from engine.families.ppo.config import CATEGORIES


def render_form(defaults: dict[str, Any]) -> dict[str, Any]:
    v = dict(defaults)
    k = "ppo-form"
    c = st.columns(4)
    v["total_timesteps"] = int(c[0].number_input("total timesteps", min_value=16, step=1024,
                                                 value=int(v["total_timesteps"]), key=f"{k}-timesteps"))
    v["learning_rate"] = float(c[1].number_input("learning rate", min_value=1e-6, max_value=1.0, format="%g",
                                                 value=float(v["learning_rate"]), key=f"{k}-lr"))
    v["n_steps"] = int(c[2].number_input("n_steps (per rollout)", min_value=8, value=int(v["n_steps"]), key=f"{k}-nsteps"))
    v["batch_size"] = int(c[3].number_input("batch size", min_value=2, value=int(v["batch_size"]), key=f"{k}-batch"))
    c = st.columns(4)
    v["gamma"] = float(c[0].number_input("gamma", min_value=0.0, max_value=1.0, value=float(v["gamma"]), key=f"{k}-gamma"))
    v["ent_coef"] = float(c[1].number_input("entropy coef", min_value=0.0, max_value=1.0, format="%g",
                                            value=float(v["ent_coef"]), key=f"{k}-ent"))
    v["n_envs"] = int(c[2].number_input("environments", min_value=1, max_value=64, value=int(v["n_envs"]), key=f"{k}-envs"))
    v["seed"] = int(c[3].number_input("seed", min_value=0, value=int(v["seed"]), key=f"{k}-seed"))
    st.markdown("**Episode and targets**")
    c = st.columns(4)
    v["max_steps"] = int(c[0].number_input("max steps per episode", min_value=1, max_value=100,
                                           value=int(v["max_steps"]), key=f"{k}-maxsteps"))
    v["size_penalty"] = float(c[1].number_input("size penalty", min_value=0.0, format="%g",
                                                value=float(v["size_penalty"]), key=f"{k}-size"))
    v["time_penalty"] = float(c[2].number_input("time penalty", min_value=0.0, format="%g",
                                                value=float(v["time_penalty"]), key=f"{k}-time"))
    v["success_bonus"] = float(c[3].number_input("success bonus", min_value=0.0, format="%g",
                                                 value=float(v["success_bonus"]), key=f"{k}-bonus"))
    c = st.columns(4)
    for col, cat in zip(c, CATEGORIES):
        v[f"target_{cat}"] = float(col.slider(f"target SSIM: {cat}", 0.0, 1.0, float(v[f"target_{cat}"]), 0.01,
                                              key=f"{k}-target-{cat}"))
    st.markdown("**Curriculum**")
    c = st.columns(4)
    v["curriculum"] = c[0].checkbox("curriculum", value=bool(v["curriculum"]), key=f"{k}-curriculum")
    v["curriculum_order"] = c[1].multiselect("stage order", list(CATEGORIES), default=list(v["curriculum_order"]),
                                             key=f"{k}-order")
    v["advance_success_rate"] = float(c[2].slider("advance at success rate", 0.0, 1.0,
                                                  float(v["advance_success_rate"]), 0.05, key=f"{k}-advance"))
    v["eval_freq"] = int(c[3].number_input("validate every (timesteps)", min_value=1, value=int(v["eval_freq"]),
                                           key=f"{k}-evalfreq"))
    return v
