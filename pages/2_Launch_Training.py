"""Launch training: family, dataset, a form or the full YAML, validated before anything is queued."""
from __future__ import annotations

import streamlit as st

from db import queries
from db.session import session_scope
from engine.configs import ConfigError, default_config
from engine.families import FAMILIES
from jobs import api
from jobs.connection import QueueUnavailable
from jobs.housekeeping import normalize_description, normalize_tags
from ui.catalog import show_start_note
from ui.clone import clear_prefill, clone_source, launch_prefill
from ui.forms import data_fraction_field, family_form, form_yaml_text, generic_form, render_custom_form, yaml_hint
from ui.gate import show_blockers
from ui.learning_curves import study_note
from ui.page import page

page("Launch")
st.title("Launch training")

if not FAMILIES:
    st.error("No model family is installed.")
    st.stop()

clone = clone_source() or launch_prefill()  # ?clone=RUN_ID: start from that run; or values another page filled in
if clone and clone.run_id is not None:
    st.info(f"Cloning run #{clone.run_id}: its family, dataset and config are filled in; change what you like.")
elif clone:
    st.info(clone.note or "The form is filled in from another page; change what you like.")
top = st.columns([2, 2, 1])
family_key = top[0].selectbox("Family", list(FAMILIES), format_func=lambda k: f"{k} — {FAMILIES[k].title}",
                              index=list(FAMILIES).index(clone.family) if clone else 0)
family = FAMILIES[family_key]
clone = clone if clone and clone.family == family_key else None
with session_scope() as s:
    datasets = queries.list_datasets(session=s, kind=family.dataset_kind) if family.dataset_kind else []
dataset = None
if family.dataset_kind:
    if datasets:
        ids = [d.id for d in datasets]
        dataset = top[1].selectbox("Dataset", datasets, format_func=lambda d: f"{d.name} ({d.summary.get('samples', '?')} samples)",
                                   index=ids.index(clone.dataset_id) if clone and clone.dataset_id in ids else 0)
    else:
        top[1].warning(f"No `{family.dataset_kind}` dataset yet: import one or generate sample data on the "
                       "Data Sufficiency page.")
priority = top[2].selectbox("Priority", api.PRIORITIES, index=1)
extra_ids: list[int] | None = None  # a family whose config combines datasets (extra_datasets) gets a pick of more
if dataset is not None and "extra_datasets" in family.config_model.model_fields:
    others = {d.id: d for d in datasets if d.id != dataset.id}
    cloned = [i for i in ((clone.config or {}).get("extra_datasets") or []) if i in others] if clone else []
    extra_ids = st.multiselect("Combine with (optional)", list(others), default=cloned, key="launch-combine",
                               format_func=lambda i: f"{others[i].name} ({others[i].summary.get('samples', '?')} samples)",
                               help=family.config_model.model_fields["extra_datasets"].description)
if dataset is not None:
    study_note(dataset.id, family_key, key="launch-note")
try:
    capacity = api.worker_capacity()
except Exception:  # Redis down: the launch itself says so
    capacity = None
if capacity is not None:
    gpu_note = (f"{capacity['gpu_workers']} with GPUs, up to {capacity['max_gpus']} each" if capacity["gpu_workers"]
                else "none with a GPU: a run with device cuda or gpus ≥ 1 is refused until one connects")
    st.caption(f"Connected training workers: {capacity['workers']} ({gpu_note}). "
               "`python -m jobs.worker --gpus all` adds a GPU worker.")
mode = st.segmented_control("Launch", ["Single runs", "Sweep"], default="Single runs", key="launch-mode",
                            help="A sweep searches a space of configs: each trial is one run")
if mode == "Sweep":
    from ui.sweeps import sweep_launcher

    if family.dataset_kind and dataset is None:
        st.stop()
    sweep_launcher(family, dataset.id if dataset else None, priority)
    st.stop()
head = st.columns([3, 2], vertical_alignment="bottom")
name = head[0].text_input("Run name (optional)", value=clone.name if clone else "",
                          help="Runs launched together get a suffix each: what tells them apart (anomaly: the age "
                               "group, e.g. 'anomaly 3-6'), else a number")
override = head[1].checkbox("Launch even if the data sufficiency check says no", key="override",
                            help="Without it the launch is refused while the data sufficiency check lists reasons; "
                                 "with it the runs are queued anyway.")
notes = st.columns([3, 2])
description = notes[0].text_input("Description (optional)", value=clone.description if clone else "",
                                  key="launch-description", help="what this run tries; editable later on Progress")
tags = notes[1].text_input("Tags (optional)", value=", ".join(clone.tags) if clone else "", key="launch-tags",
                           help="comma-separated; search and filter runs by them on Progress and Model Comparison")
if family.description:
    st.caption(family.description)

form_tab, yaml_tab = st.tabs(["Form", "YAML editor"])
defaults = clone.defaults(default_config(family)) if clone else default_config(family)
with form_tab:
    custom = family_form(family_key)
    form_data = (render_custom_form(custom, defaults, dataset) if custom
                 else generic_form(family.config_model, defaults, key=family_key))
    if extra_ids is not None:
        form_data["extra_datasets"] = extra_ids
    if custom and "data_fraction" in family.config_model.model_fields:  # the generic form has every number already
        form_data["data_fraction"] = data_fraction_field(family.config_model, form_data.get("data_fraction", 1.0),
                                                         key=f"{family_key}-data-fraction")
    show_start_note(family_key, form_data)  # trains from scratch / demo features: said plainly
    buttons = st.columns([1, 1, 4])
    review_form = buttons[0].button("Review", key="launch-review",
                                    help="what Start would queue: datasets, split sizes, classes and the final config")
    launch_form = buttons[1].button("Validate and launch", type="primary", key="launch-form")
with yaml_tab:
    st.caption("Every key of this family, with its type and meaning in the comments. It follows the form: "
               "a change there rewrites this text; edits here launch from this tab. " + yaml_hint(family))
    yaml_key, synced_key = f"yaml-{family_key}", f"yaml-from-form-{family_key}"
    form_text = form_yaml_text(family, form_data)
    if st.session_state.get(synced_key) != form_text:  # the form changed (or first visit): show it
        st.session_state[synced_key] = form_text
        st.session_state[yaml_key] = form_text
    text = st.text_area("config.yaml", height=420, key=yaml_key)
    buttons = st.columns([1, 1, 4])
    review_yaml = buttons[0].button("Review", key="launch-review-yaml",
                                    help="what Start would queue: datasets, split sizes, classes and the final config")
    launch_yaml = buttons[1].button("Validate and launch", type="primary", key="launch-yaml")


def show_errors(exc: ConfigError) -> None:
    st.error(f"Nothing was queued: the {exc.source} has {len(exc.errors)} problem(s).")
    for err in exc.errors:
        st.markdown(f"- **`{err.field or '(document)'}`** — {err.message}")


def refuse(reasons: list[str]) -> None:
    show_blockers(reasons)
    st.info("Fix the data, change the config, or tick the override box to launch anyway.")


def launch(config: dict | str, source: str) -> None:
    """Plan the launch (``jobs.api.plan_launch``: read, expand, validate, gate), then queue it."""
    try:
        plan = api.plan_launch(family_key, dataset_id=dataset.id if dataset else None, config=config, name=name,
                               source=source)
    except ConfigError as exc:
        show_errors(exc)
        return
    if family.dataset_kind and dataset is None:
        st.error(f"Choose a `{family.dataset_kind}` dataset first.")
        return
    try:  # notes the run cannot keep: refused before anything is queued
        normalize_tags(tags), normalize_description(description)
    except ValueError as exc:
        st.error(str(exc))
        return
    if plan.blockers and not override:
        refuse(plan.blockers)
        return
    try:
        runs = api.submit_plan(plan, priority=priority, override=override, description=description,
                               tags=normalize_tags(tags), cloned_from=clone.run_id if clone else None)
    except QueueUnavailable as exc:
        st.error(f"{exc}. Start it with `make run`, or check REDIS_URL.")
        return
    clear_prefill()
    st.success(f"Queued {len(runs)} run(s): " + ", ".join(f"#{r.id} {r.name or ''}".rstrip() for r in runs))
    if source == "YAML":
        show_start_note(family_key, plan.runs[0].config)
    st.page_link("pages/3_Progress.py", label="Watch progress", icon=":material/monitoring:")


def review(config: dict | str, source: str) -> None:
    """The review step: plan as Start would, show each run's data and final config, queue nothing."""
    try:
        plan = api.plan_launch(family_key, dataset_id=dataset.id if dataset else None, config=config, name=name,
                               source=source)
    except ConfigError as exc:
        show_errors(exc)
        return
    st.subheader("Review")
    for run in plan.runs:
        with st.container(border=True):
            st.markdown(f"**{run.name or family_key}**" + (f" — {description}" if description else ""))
            details = run.review()
            splits = details.pop("splits", None)
            for key, value in details.items():
                st.markdown(f"- {key}: {value}")
            if splits:
                st.dataframe([{"split": k, "images": v} for k, v in splits.items()], hide_index=True)
            if run.blockers:
                show_blockers(list(run.blockers))
            st.code(form_yaml_text(family, run.config.model_dump(mode="json")), language="yaml")
    st.caption("Nothing is queued yet: **Validate and launch** starts these run(s).")


if review_form:
    review(form_data, "config")
if review_yaml:
    review(text, "YAML")
if launch_form:
    launch(form_data, "config")
if launch_yaml:
    launch(text, "YAML")
