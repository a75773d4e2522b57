"""Launch training: family, dataset, a form or the full YAML, validated before anything is queued."""
from __future__ import annotations

import streamlit as st

from db import queries
from db.session import session_scope
from engine.configs import ConfigError, default_config, default_config_text, parse_config_yaml, validate_config
from engine.core import LaunchBlocked
from engine.families import FAMILIES
from jobs import api
from jobs.connection import QueueUnavailable
from ui.forms import family_form, generic_form
from ui.page import page

page("Launch")
st.title("Launch training")

if not FAMILIES:
    st.error("No model family is installed.")
    st.stop()

top = st.columns([2, 2, 1])
family_key = top[0].selectbox("Family", list(FAMILIES), format_func=lambda k: f"{k} — {FAMILIES[k].title}")
family = FAMILIES[family_key]
with session_scope() as s:
    datasets = queries.list_datasets(session=s, kind=family.dataset_kind) if family.dataset_kind else []
dataset = None
if family.dataset_kind:
    if datasets:
        dataset = top[1].selectbox("Dataset", datasets, format_func=lambda d: f"{d.name} ({d.summary.get('samples', '?')} samples)")
    else:
        top[1].warning(f"No `{family.dataset_kind}` dataset yet: import one or generate sample data on the "
                       "Data Sufficiency page.")
priority = top[2].selectbox("Priority", api.PRIORITIES, index=1)
mode = st.segmented_control("Launch", ["Single runs", "Sweep"], default="Single runs", key="launch-mode",
                            help="A sweep searches a space of configs: each trial is one run")
if mode == "Sweep":
    from ui.sweeps import sweep_launcher

    if family.dataset_kind and dataset is None:
        st.stop()
    sweep_launcher(family, dataset.id if dataset else None, priority)
    st.stop()
name = st.text_input("Run name (optional)")
if family.description:
    st.caption(family.description)

form_tab, yaml_tab = st.tabs(["Form", "YAML editor"])
defaults = default_config(family)
with form_tab:
    custom = family_form(family_key)
    form_values = custom.render_form(defaults) if custom else generic_form(family.config_model, defaults, key=family_key)
    configs = form_values if isinstance(form_values, list) else [form_values]
    launch_form = st.button("Validate and launch", type="primary", key="launch-form")
with yaml_tab:
    st.caption("Every key of this family, with its type and meaning in the comments.")
    text = st.text_area("config.yaml", value=default_config_text(family), height=420, key=f"yaml-{family_key}")
    launch_yaml = st.button("Validate and launch", type="primary", key="launch-yaml")
override = st.checkbox("Launch even if the data sufficiency check says no", key="override",
                       help="Without it the launch is refused while the data sufficiency check lists reasons; "
                            "with it the runs are queued anyway.")


def show_errors(exc: ConfigError) -> None:
    st.error(f"Nothing was queued: the {exc.source} has {len(exc.errors)} problem(s).")
    for err in exc.errors:
        st.markdown(f"- **`{err.field or '(document)'}`** — {err.message}")


def launch(raw_configs: list) -> None:
    try:
        validated = [validate_config(family, c) if isinstance(c, dict) else c for c in raw_configs]
    except ConfigError as exc:
        show_errors(exc)
        return
    if family.dataset_kind and dataset is None:
        st.error(f"Choose a `{family.dataset_kind}` dataset first.")
        return
    blockers = [b for cfg in validated for b in family.launch_blockers(dataset.id if dataset else None, cfg)]
    if blockers and not override:
        st.error("Not enough data for this launch:")
        for b in blockers:
            st.markdown(f"- {b}")
        st.info("Fix the data, change the config, or tick the override box to launch anyway.")
        return
    try:
        runs = [api.submit_run(family=family_key, config=cfg, dataset_id=dataset.id if dataset else None,
                               name=name if len(validated) == 1 else (f"{name} {i + 1}" if name else ""),
                               priority=priority, override=override)
                for i, cfg in enumerate(validated)]
    except QueueUnavailable as exc:
        st.error(f"{exc}. Start it with `make run`, or check REDIS_URL.")
    except LaunchBlocked as exc:  # the data changed between the check above and the submit
        st.error("Not enough data for this launch:")
        for b in exc.reasons:
            st.markdown(f"- {b}")
        return
    st.success(f"Queued {len(runs)} run(s): " + ", ".join(f"#{r.id}" for r in runs))
    st.page_link("pages/3_Progress.py", label="Watch progress", icon=":material/monitoring:")


if launch_form:
    launch(configs)
if launch_yaml:
    try:
        launch([parse_config_yaml(family, text)])
    except ConfigError as exc:
        show_errors(exc)
