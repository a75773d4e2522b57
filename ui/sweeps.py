"""Sweep widgets: the Launch page's sweep mode and the sweep view (progress, best trial,
metric vs trial, parallel coordinates, parameter importance)."""
from __future__ import annotations

import math
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from db.models import Run, RunStatus, Sweep
from engine.configs import CONFIG_DIR, ConfigError, default_config
from engine.core import Family
from engine.safeio import UnsafeFile, load_yaml
from engine.sweeps import parse_space, parse_sweep_yaml, validate_spec
from ui.gate import show_blockers

__all__ = ["sweep_launcher", "sweep_counts", "best_trial", "trial_table", "metric_vs_trial_figure",
           "parallel_coordinates_figure", "default_sweep_text", "varied_keys"]

KINDS = ("choices", "range", "log_range", "int_range")


def default_sweep_text(family: Family) -> str:
    """The family's example sweep file, or a minimal one over its first numeric keys."""
    path = CONFIG_DIR / "sweeps" / f"{family.key}.yaml"
    if path.exists():
        return path.read_text()
    return "method: random\nmax_trials: 10\nparallel: 1\npruner: none\nspace: {}\n"


def _form_spec(family: Family, example: dict[str, Any]) -> dict[str, Any]:
    """A small form: method, budget, pruner, and a table of varied keys."""
    c = st.columns(5)
    spec: dict[str, Any] = {
        "method": c[0].selectbox("method", ["random", "guided", "grid"], key=f"sw-{family.key}-method",
                                 help="guided = Optuna's TPE, which learns from earlier trials"),
        "max_trials": int(c[1].number_input("max trials", 1, 1000, int(example.get("max_trials", 10)),
                                            key=f"sw-{family.key}-trials")),
        "parallel": int(c[2].number_input("parallel", 1, 64, int(example.get("parallel", 1)),
                                          key=f"sw-{family.key}-parallel",
                                          help="trials queued at once; at most the workers you have")),
        "pruner": c[3].selectbox("pruner", ["none", "median", "hyperband"], key=f"sw-{family.key}-pruner",
                                 help="stop trials that trail the others at the same epoch"),
        "metric": c[4].text_input("metric", value=example.get("metric", ""), key=f"sw-{family.key}-metric",
                                  placeholder=(family.headlines[0].name if family.headlines else "val/loss"),
                                  help="default: the family's headline metric"),
    }
    rows = []
    for name, value in (example.get("space") or {}).items():
        if isinstance(value, list):
            rows.append({"key": name, "kind": "choices", "values / low..high": ", ".join(map(str, value))})
        elif isinstance(value, dict) and len(set(value) - {"step"}) == 1 and next(iter(set(value) - {"step"})) in KINDS:
            kind = next(iter(set(value) - {"step"}))
            rows.append({"key": name, "kind": kind, "values / low..high": f"{value[kind][0]}..{value[kind][1]}"})
    table = st.data_editor(pd.DataFrame(rows or [{"key": "", "kind": "range", "values / low..high": ""}]),
                           num_rows="dynamic", width="stretch", key=f"sw-{family.key}-space",
                           column_config={
                               "key": st.column_config.SelectboxColumn(
                                   "key", options=list(family.config_model.model_fields), required=True),
                               "kind": st.column_config.SelectboxColumn("kind", options=list(KINDS), required=True),
                               "values / low..high": st.column_config.TextColumn(
                                   help="choices: a, b, c · ranges: low..high")})
    space: dict[str, Any] = {}
    for row in table.to_dict("records"):
        key, kind, text = row.get("key"), row.get("kind"), str(row.get("values / low..high") or "")
        if not key or not text.strip():
            continue
        if kind == "choices":
            space[key] = [_value(v.strip()) for v in text.split(",") if v.strip()]
        else:
            lo, _, hi = text.partition("..")
            space[key] = {kind: [_value(lo.strip()), _value(hi.strip())]}
    spec["space"] = space
    return spec


def _value(text: str) -> Any:
    """A value typed in the sweep form, read as YAML by the one safe loader (a bad one stays text
    and is named by the space's validation)."""
    try:
        return load_yaml(text)
    except UnsafeFile:
        return text


def sweep_launcher(family: Family, dataset_id: int | None, priority: str) -> None:
    """The Launch page in sweep mode: form or YAML, validated as a whole before anything is queued."""
    from jobs.api import QueueUnavailable
    from jobs.sweeps import SweepBlocked, submit_sweep

    text_default = default_sweep_text(family)
    try:
        example = load_yaml(text_default) or {}
    except UnsafeFile:
        example = {}
    st.caption("Every trial is an ordinary run on the queue. The whole space is validated against the "
               f"`{family.key}` config before anything is queued; the data gate applies to every trial.")
    form_tab, yaml_tab = st.tabs(["Form", "YAML editor"])
    with form_tab:
        form_spec = _form_spec(family, example)
        go_form = st.button("Validate and start the sweep", type="primary", key="sweep-form")
    with yaml_tab:
        st.caption("Lists are choices; `{range: [lo, hi]}`, `{log_range: [lo, hi]}`, `{int_range: [lo, hi], step: N}`;"
                   " any other value is fixed for every trial.")
        text = st.text_area("sweep.yaml", value=text_default, height=380, key=f"sweep-yaml-{family.key}")
        go_yaml = st.button("Validate and start the sweep", type="primary", key="sweep-yaml")
    override = st.checkbox("Start even if the data sufficiency check says no", key="sweep-override")
    if not (go_form or go_yaml):
        return
    try:
        spec = parse_sweep_yaml(text) if go_yaml else validate_spec(form_spec)
        sweep = submit_sweep(family=family.key, spec=spec, base=default_config(family), dataset_id=dataset_id,
                             priority=priority, override=override)
    except ConfigError as exc:
        st.error(f"Nothing was queued: the sweep has {len(exc.errors)} problem(s).")
        for err in exc.errors:
            st.markdown(f"- **`{err.field or '(document)'}`** — {err.message}")
        return
    except SweepBlocked as exc:
        show_blockers(exc.reasons, what="sweep")
        st.info("Fix the data, narrow the space, or tick the override box to start anyway.")
        return
    except QueueUnavailable as exc:
        st.error(f"{exc}. Start it with `make run`, or check REDIS_URL.")
        return
    st.success(f"Sweep #{sweep.id} started: up to {sweep.max_trials} trials, {sweep.parallel} at a time, "
               f"{sweep.direction} `{sweep.metric}`.")
    st.page_link("pages/9_Sweeps.py", label="Watch the sweep", query_params={"sweep": str(sweep.id)})


def sweep_counts(runs: list[Run], sweep: Sweep) -> dict[str, int]:
    counts = {s: 0 for s in ("done", "running", "queued", "pruned", "failed")}
    for r in runs:
        if r.status == RunStatus.completed:
            counts["done"] += 1
        elif r.status == RunStatus.pruned:
            counts["pruned"] += 1
        elif r.status in (RunStatus.failed, RunStatus.cancelled):
            counts["failed"] += 1
        elif r.status == RunStatus.pending:
            counts["queued"] += 1
        else:
            counts["running"] += 1
    return counts


def _value(run: Run, metric: str) -> float | None:
    v = (run.summary or {}).get(metric)
    return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None


def best_trial(runs: list[Run], sweep: Sweep) -> Run | None:
    scored = [r for r in runs if r.status == RunStatus.completed and _value(r, sweep.metric) is not None]
    if not scored:
        return None
    pick = max if sweep.direction == "maximize" else min
    return pick(scored, key=lambda r: _value(r, sweep.metric))


def varied_keys(sweep: Sweep) -> list[str]:
    return [p.name for p in parse_space((sweep.space or {}).get("space", {}))[0]]


def trial_table(runs: list[Run], sweep: Sweep) -> pd.DataFrame:
    keys = varied_keys(sweep)
    rows = []
    for r in runs:
        row = {"trial": r.trial_number, "run": r.id, "status": r.status.value, sweep.metric: _value(r, sweep.metric)}
        row.update({k: str(r.config.get(k)) if isinstance(r.config.get(k), list) else r.config.get(k) for k in keys})
        rows.append(row)
    return pd.DataFrame(rows)


def metric_vs_trial_figure(runs: list[Run], sweep: Sweep) -> go.Figure:
    fig = go.Figure()
    done = [r for r in runs if _value(r, sweep.metric) is not None]
    fig.add_trace(go.Scatter(x=[r.trial_number for r in done], y=[_value(r, sweep.metric) for r in done],
                             mode="markers", name="trial", text=[f"run {r.id}" for r in done]))
    best, xs, ys = None, [], []
    for r in sorted(done, key=lambda r: r.trial_number or 0):
        v = _value(r, sweep.metric)
        if best is None or (v > best if sweep.direction == "maximize" else v < best):
            best = v
        xs.append(r.trial_number)
        ys.append(best)
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name="best so far", line={"shape": "hv"}))
    fig.update_layout(height=320, margin={"l": 10, "r": 10, "t": 30, "b": 10}, xaxis_title="trial",
                      yaxis_title=sweep.metric, title=f"{sweep.metric} by trial ({sweep.direction})")
    return fig


def parallel_coordinates_figure(runs: list[Run], sweep: Sweep) -> go.Figure | None:
    """Parameters → the sweep metric, one line per finished trial; categorical values by index."""
    table = trial_table([r for r in runs if _value(r, sweep.metric) is not None], sweep)
    if len(table) < 2:
        return None
    dims = []
    for key in [*varied_keys(sweep), sweep.metric]:
        col = table[key]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            dims.append({"label": key, "values": col.astype(float).tolist()})
        else:
            cats = sorted(col.astype(str).unique())
            dims.append({"label": key, "values": [cats.index(v) for v in col.astype(str)],
                         "tickvals": list(range(len(cats))), "ticktext": cats})
    fig = go.Figure(go.Parcoords(dimensions=dims, line={"color": table[sweep.metric].astype(float),
                                                        "colorscale": "Viridis", "showscale": True,
                                                        "reversescale": sweep.direction == "minimize"}))
    fig.update_layout(height=360, margin={"l": 40, "r": 40, "t": 40, "b": 20})
    return fig
