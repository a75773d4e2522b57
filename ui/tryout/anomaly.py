"""Anomaly views: a run's reconstruction errors (its ``errors.json``: histogram per split with the
threshold, ROC curve where labelled anomalies exist), drawn live; and Try Model, which points to
Analyze Drawing (drawings are scored there, by the active model of their age group)."""
from __future__ import annotations

import json

import pandas as pd
import plotly.express as px
import streamlit as st

__all__ = ["render_try", "render_results", "error_figures"]

ERRORS_FILE = "errors.json"  # engine.families.anomaly.plots.ERRORS_FILE (that module imports numpy/sklearn)
LABELS = {"val": "validation (normal)", "test": "test (normal)", "anomalous": "labelled anomalies"}


def error_figures(data: dict) -> list:
    """The histogram of errors per split with the threshold, and the ROC curve when there is one."""
    rows = [{"error": v, "drawings": LABELS.get(k, k)} for k, values in (data.get("errors") or {}).items()
            for v in values]
    figures = []
    if rows:
        fig = px.histogram(pd.DataFrame(rows), x="error", color="drawings", barmode="overlay", nbins=30, opacity=0.6,
                           title=f"Reconstruction error, age group {data.get('group', '?')}")
        fig.add_vline(x=data["threshold"], line_dash="dash", annotation_text=f"threshold {data['threshold']:.4g}")
        figures.append(fig)
    roc = data.get("roc")
    if roc:
        fig = px.line(pd.DataFrame({"false positive rate": roc["fpr"], "true positive rate": roc["tpr"]}),
                      x="false positive rate", y="true positive rate", title=f"ROC (AUROC {roc['auroc']:.3f})")
        fig.add_shape(type="line", x0=0, y0=0, x1=1, y1=1, line={"dash": "dot", "color": "#999"})
        figures.append(fig)
    return figures


def render_results(run) -> None:
    """Draw the run's errors from its ``errors.json`` (checked against its record once the run ended)."""
    from jobs.artifacts import ArtifactRefused, OutsideRunFolder, read, run_files

    files = run_files(run.id)
    if not any(e.path == ERRORS_FILE for e in files.entries):
        return
    try:
        data = json.loads(read(files, ERRORS_FILE))
    except (ArtifactRefused, OutsideRunFolder, OSError, ValueError) as exc:
        st.warning(f"{ERRORS_FILE}: {exc}")
        return
    cols = st.columns(2)
    for i, fig in enumerate(error_figures(data)):
        cols[i % 2].plotly_chart(fig, width="stretch", key=f"anomaly-errors-{run.id}-{i}")


def render_try(model) -> None:
    """Anomaly models score drawings by age group: send the user to Analyze Drawing."""
    st.info(f"This model scores drawings of age group {model.scope or 'all'}: upload one on Analyze Drawing, "
            "which picks the active model of the drawing's age group.")
    st.page_link("pages/6_Analyze_Drawing.py", label="Analyze a drawing", icon=":material/draw:")
