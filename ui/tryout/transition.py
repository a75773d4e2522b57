"""Try a transition model: two frames in, the predicted 6-DoF action out (beside the true one
when known); and the test per-axis errors of a run as a bar chart. No training library here:
the prediction runs on a worker through ``jobs.api.request_prediction``."""
from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.express as px
import streamlit as st

from engine.families.transition.config import AXES, per_axis
from ui.charts import categorical

__all__ = ["render_try", "render_results", "render_summary", "action_figure"]


def action_figure(result: dict[str, Any]):
    rows = [{"axis": a, "action": v, "which": "predicted"} for a, v in zip(result["axes"], result["predicted"])]
    if result.get("true"):
        rows += [{"axis": a, "action": v, "which": "true"} for a, v in zip(result["axes"], result["true"])]
    return categorical(px.bar(pd.DataFrame(rows), x="axis", y="action", color="which", barmode="group",
                  title="6-DoF action: predicted vs true (mm, degrees)"))


def render_results(run) -> None:
    """Test error per axis (MAE) of a finished run, and its split."""
    render_summary(run.summary or {}, key=f"transition-axis-errors-{run.id}")


def render_summary(summary: dict[str, Any], *, key: str = "transition-axis-errors") -> None:
    """Test error per axis (MAE) and the split, from a run summary or a model's metrics."""
    errors = per_axis(summary)
    if errors:
        frame = pd.DataFrame({"axis": list(errors), "MAE": list(errors.values())})
        st.plotly_chart(categorical(px.bar(frame, x="axis", y="MAE", title="Test error per axis (test patients)")),
                        width="stretch", key=key)
    patients = summary.get("per_patient")
    if isinstance(patients, list) and patients:
        frame = pd.DataFrame(patients)
        frame["patient"] = frame["patient"].astype(str)
        st.markdown("**Test error per patient**")
        st.dataframe(frame, hide_index=True, key=f"{key}-patients-table")
        st.plotly_chart(categorical(px.bar(frame, x="patient", y="mae_mean", title="Mean absolute error per test patient")),
                        width="stretch", key=f"{key}-patients")
    split = summary.get("split")
    if isinstance(split, dict):
        st.caption("Patients — " + "; ".join(f"{s}: {', '.join(v)}" for s, v in split.items()))


def render_try(model) -> None:
    """Upload two frames (and optionally the true action), predict on a worker, show the result."""
    render_summary(model.metrics or {})
    c = st.columns(2)
    f1 = c[0].file_uploader("Frame t1", type=["png", "jpg", "jpeg", "bmp"], key="transition-f1")
    f2 = c[1].file_uploader("Frame t2", type=["png", "jpg", "jpeg", "bmp"], key="transition-f2")
    true_text = st.text_input("True action (optional): x, y, z, roll, pitch, yaw", key="transition-true")
    if f1 is not None:
        c[0].image(f1.getvalue(), caption="t1", width=200)
    if f2 is not None:
        c[1].image(f2.getvalue(), caption="t2", width=200)
    if f1 is None or f2 is None or not st.button("Predict", type="primary", key="transition-go"):
        return
    payload: dict[str, Any] = {"frame1": f1.getvalue(), "frame2": f2.getvalue()}
    if true_text.strip():
        try:
            payload["true_action"] = [float(v) for v in true_text.split(",")]
        except ValueError:
            st.error("The true action must be six comma-separated numbers.")
            return
    from jobs import api

    try:
        with st.spinner("Running on a worker…"):
            result = api.request_prediction(model.id, payload)
    except (TimeoutError, RuntimeError) as exc:
        st.error(str(exc))
        return
    st.plotly_chart(action_figure(result), width="stretch", key="transition-action")
    table = {"axis": list(AXES), "predicted": result["predicted"]}
    if result.get("true"):
        table.update(true=result["true"], abs_error=result["abs_error"])
    st.dataframe(pd.DataFrame(table), hide_index=True)
