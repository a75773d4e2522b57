"""Learning-curve views: the study launcher (Data Sufficiency page), a study's curves with their fit
and sentence (the study page, the shared Results page, the HTML export), and the gate's note
"more data likely helps" (Data Sufficiency and Launch pages)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from engine.configs import ConfigError
from engine.core import Family
from jobs.connection import QueueUnavailable
from jobs.learning_curves import (
    DEFAULT_FRACTIONS,
    DEFAULT_REPEATS,
    MAX_REPEATS,
    CurveGroup,
    StudyBlocked,
    StudyResult,
    latest_study,
    submit_study,
    summary_rows,
)
from ui.gate import show_blockers
from ui.report import html_report

__all__ = ["STUDY_PATH", "study_link", "curve_figure", "render_study", "study_launcher", "study_note", "study_report",
           "study_table"]

STUDY_PATH = "pages/10_Learning_Curve.py"


def study_link(study_id: int) -> str:
    return f"/Learning_Curve?study={study_id}"


def curve_figure(group: CurveGroup, *, metric: str, size_key: str) -> go.Figure:
    """Each run as a dot, the mean per size with its min–max spread, and the fitted power law with
    a band of ±1 standard error (when there is a fit)."""
    fig = go.Figure()
    xs = [p.n for p in group.points for _ in p.values]
    ys = [v for p in group.points for v in p.values]
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="markers", name="runs", marker={"size": 7, "opacity": 0.55}))
    fig.add_trace(go.Scatter(
        x=[p.n for p in group.points], y=[p.mean for p in group.points], mode="markers+lines", name="mean (min–max)",
        line={"dash": "dot"},
        error_y={"type": "data", "symmetric": False, "array": [p.high - p.mean for p in group.points],
                 "arrayminus": [p.mean - p.low for p in group.points]}))
    if group.fit:
        fit = group.fit
        lo, hi = min(p.n for p in group.points), fit.n_max * 2
        grid = np.geomspace(lo, hi, 60)
        pred = np.array([fit.predict(n) for n in grid])
        sd = np.array([fit.predict_sd(n) for n in grid])
        sd = np.where(np.isfinite(sd), sd, 0.0)
        fig.add_trace(go.Scatter(x=np.concatenate([grid, grid[::-1]]), y=np.concatenate([pred + sd, (pred - sd)[::-1]]),
                                 fill="toself", line={"width": 0}, opacity=0.2, name="fit ± 1 s.e.", hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=grid, y=pred, mode="lines", name="a·n^-b + c"))
    title = f"{group.label} · " if group.label else ""
    fig.update_layout(title=f"{title}{metric} against {size_key}", height=360, margin={"t": 40, "b": 30},
                      xaxis_title=size_key, yaxis_title=metric, legend={"orientation": "h"})
    fig.update_xaxes(type="log")
    return fig


def study_table(result: StudyResult) -> pd.DataFrame:
    """One row per run: group, fraction, seed, training items, status and value."""
    frame = pd.DataFrame(result.measured)
    if frame.empty:
        return frame
    return frame.rename(columns={"value": result.metric, "n": "training items"})


def render_study(result: StudyResult, *, key: str) -> list[go.Figure]:
    """The study's status, each group's sentence and curve; returns the figures (for an export)."""
    sweep = result.sweep
    st.caption(f"Learning curve #{sweep.id} · {sweep.family} · fractions "
               f"{', '.join(f'{f:g}' for f in sweep.space.get('fractions', []))} × {sweep.space.get('repeats')} "
               f"repeat(s) · {result.finished}/{len(result.runs)} runs finished · status **{sweep.status}**")
    figures = []
    for group in result.groups:
        with st.container(border=True):
            if group.label:
                st.markdown(f"**{group.label}**")
            (st.warning if group.steep else st.info)(group.sentence[0].upper() + group.sentence[1:] + ".")
            if group.points:
                fig = curve_figure(group, metric=result.label, size_key=result.size_key)
                figures.append(fig)
                st.plotly_chart(fig, width="stretch", key=f"{key}-curve-{group.label or 'all'}")
    if not result.groups:
        st.info("No run of this study has finished yet: not enough points.")
    with st.expander("Runs of the study"):
        st.dataframe(study_table(result), hide_index=True, width="stretch")
    return figures


def study_report(result: StudyResult, figures: list[go.Figure]) -> str:
    """The study as a self-contained HTML file."""
    tiles = {}
    for g in result.groups:
        if g.fit:
            gain, sd = g.fit.doubling_gain()
            tiles[g.label or "all"] = {"doubling gain": f"{gain:.3g} ± {sd:.3g}",
                                       "curve": "not flattened" if g.steep else "flattened",
                                       "b": f"{g.fit.b:.3g}"}
        else:
            tiles[g.label or "all"] = {"curve": "not enough points"}
    sentences = pd.DataFrame(summary_rows(result))
    return html_report(title=f"Learning curve · {result.sweep.name}", tiles=tiles,
                       tables={"What more data would bring": sentences, "Runs": study_table(result)},
                       figures=figures, configs={"base config": dict(result.sweep.space.get("base", {}))})


def study_launcher(family: Family, dataset_id: int, *, key: str = "curve") -> None:
    """Fractions, repeats and base-config overrides, and a button that queues the study."""
    with st.form(f"{key}-form", border=True):
        st.markdown("**Would more data help? Run a learning-curve study**")
        st.caption("One run per (data fraction, repeat) on a stratified subset of the training split; validation "
                   "and test stay whole. The family's ranking headline is fitted as a·n^-b + c against training-set "
                   "size.")
        c = st.columns([2, 1, 3])
        fractions = c[0].text_input("Fractions", value=",".join(f"{f:g}" for f in DEFAULT_FRACTIONS),
                                    key=f"{key}-fractions", help="shares of the training split, each in (0, 1]")
        repeats = c[1].number_input("Repeats", min_value=1, max_value=MAX_REPEATS, value=DEFAULT_REPEATS, step=1,
                                    key=f"{key}-repeats", help="runs per fraction (seed, seed+1, ...)")
        sets = c[2].text_area("Config overrides, one key=value a line", key=f"{key}-sets", height=80,
                              help="values read as YAML, e.g. epochs=20 or (anomaly) age_groups=[3-6, 6-9]")
        override = st.checkbox("Queue even if the data sufficiency check says no", key=f"{key}-override")
        go_ = st.form_submit_button("Queue the study", type="primary")
    if not go_:
        return
    overrides = [line.strip() for line in sets.splitlines() if line.strip()]
    try:
        sweep = submit_study(family.key, dataset_id=dataset_id, overrides=overrides, fractions=fractions,
                             repeats=int(repeats), override=override)
    except ConfigError as exc:
        st.error(f"Nothing was queued: {len(exc.errors)} problem(s).")
        for err in exc.errors:
            st.markdown(f"- **`{err.field or '(config)'}`** — {err.message}")
        return
    except StudyBlocked as exc:
        show_blockers(exc.reasons, what="study")
        st.info("Nothing was queued. Raise the smallest fraction, add data, or tick the box to queue anyway.")
        return
    except QueueUnavailable as exc:
        st.error(f"{exc}. Start it with `make run`, or check REDIS_URL.")
        return
    st.success(f"Queued learning curve #{sweep.id}: {sweep.max_trials} run(s).")
    st.page_link(STUDY_PATH, label=f"Open learning curve #{sweep.id}", icon=":material/show_chart:",
                 query_params={"study": str(sweep.id)})


def study_note(dataset_id: int, family: str | None = None, *, key: str = "note") -> StudyResult | None:
    """The gate's word from the latest study of the dataset: a link to it and the groups where more
    data likely helps (nothing when the dataset has no study)."""
    result = latest_study(dataset_id, family)
    if result is None:
        return None
    steep = result.steep_groups
    fitted = [g for g in result.groups if g.fit]
    where = f"#{result.sweep.id} ({result.sweep.family}, {result.finished}/{len(result.runs)} runs)"
    if steep:
        st.warning(f"More data likely helps: {', '.join(steep)} — the learning curve {where} has not flattened.")
    elif fitted:
        st.info(f"The learning curve {where} has flattened" + (" for every group" if len(fitted) > 1 else "")
                + ": more of the same data is unlikely to help much.")
    else:
        st.info(f"Learning curve {where}: not enough points yet.")
    st.page_link(STUDY_PATH, label=f"Latest learning curve #{result.sweep.id}", icon=":material/show_chart:",
                 query_params={"study": str(result.sweep.id)})
    return result

