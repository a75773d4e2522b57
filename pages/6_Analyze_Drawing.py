"""Analyze a drawing: the active model of its age group scores it (on a worker)."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from db import queries
from db.session import session_scope
from engine.families.anomaly.config import AgeRange, parse_age_range, scope_for_age
from engine.families.anomaly.metrics import percentile_label
from jobs import api
from ui.page import page

page("Analyze a drawing")
st.title("Analyze a drawing")


def _age_range(scope: str) -> AgeRange | None:
    """The scope's age range; None for a scope that is no age group of the accepted ages."""
    try:
        return parse_age_range(scope)
    except ValueError:
        return None


with session_scope() as s:
    models = queries.list_model_versions(session=s, family="anomaly", active_only=True)
    datasets = queries.list_datasets(session=s, kind="drawings")
if not models:
    st.info("No active anomaly model yet: launch the `anomaly` family for some age groups first.")
    st.stop()

ranges = {m.scope or "": _age_range(m.scope or "") for m in models}
scopes = sorted((x for x, r in ranges.items() if r is not None), key=lambda x: (ranges[x].lo, ranges[x].hi))
odd = sorted(repr(x) for x, r in ranges.items() if r is None)
st.caption("Active models for age groups: " + ", ".join(scopes)
           + (f" (not an age group a drawing's age falls in, so never used here: {', '.join(odd)})" if odd else ""))

source = st.radio("Drawing", ["Upload", "Pick from a dataset"], horizontal=True)
image, age, name = None, None, "drawing.png"
if source == "Upload":
    upload = st.file_uploader("Drawing", type=["png", "jpg", "jpeg", "bmp"])
    age = st.number_input("Age in years", min_value=2.0, max_value=18.0, value=6.0, step=0.5)
    if upload is not None:
        image, name = upload.getvalue(), upload.name
elif datasets:
    ds = st.selectbox("Dataset", datasets, format_func=lambda d: d.name)
    with session_scope() as s:
        samples = queries.dataset_samples(session=s, dataset_id=ds.id)
    if samples:
        smp = st.selectbox("Drawing", samples,
                           format_func=lambda x: f"{x.path} · age {x.group_value:g} · {x.label or 'unlabelled'}")
        age = st.number_input("Age in years", min_value=2.0, max_value=18.0, value=float(smp.group_value), step=0.5)
        path = Path(ds.root) / smp.path
        if path.is_file():
            image, name = path.read_bytes(), path.name
else:
    st.info("No drawings dataset yet.")

scope = scope_for_age(scopes, float(age)) if age is not None else None
if age is not None and scope is None:
    st.warning(f"No active model covers age {age:g}; train an age group that includes it.")
if image is None or scope is None:
    st.stop()
with session_scope() as s:
    choices = queries.scope_versions(session=s, family="anomaly", scope=scope)
model = st.selectbox(f"Model for ages {scope}", choices, key="version",
                     format_func=lambda v: f"#{v.id} · {v.status} · run #{v.run_id}")  # the active one first
left, right = st.columns([2, 3])
left.image(image, caption=f"{name} · age {age:g}", width=320)
with right:
    st.markdown(f"Model version **#{model.id}** for ages **{scope}** (run #{model.run_id}), "
                f"threshold {model.threshold:.4g}" if model.threshold is not None else f"Model #{model.id}")
    if st.button("Analyze", type="primary"):
        try:
            queued = st.empty()

            def waiting(position):
                queued.caption(f"In the scoring queue: {position} request(s) ahead" if position else "Scoring…")

            with st.spinner("Scoring on the scoring worker…"):
                result = api.request_prediction(model.id, {"image": image, "age": float(age), "name": name},
                                                on_wait=waiting)
            queued.empty()
        except (TimeoutError, RuntimeError) as exc:
            st.error(str(exc))
            st.stop()
        anomalous = bool(result["is_anomaly"])
        limit = float(result["threshold_percentile"])
        c = st.columns(3)
        c[0].metric("reconstruction error", f"{result['reconstruction_error']:.4g}")
        c[1].metric("threshold", f"{result['threshold']:.4g}",
                    help=f"the {limit:.1f}th percentile of the group's normal validation drawings' errors")
        c[2].metric("percentile in group", percentile_label(result["percentile"], limit, anomalous),
                    help="where this drawing's error falls among the group's normal validation drawings "
                         "(0: below all of them, 100: above all), interpolated between them the way the "
                         f"threshold was placed. The threshold sits at {limit:.1f}, so a drawing is anomalous "
                         f"exactly when its percentile is above {limit:.1f}.")
        if anomalous:
            st.error(f"Anomalous: the reconstruction error is above the group's threshold (percentile above "
                     f"{limit:.1f}).")
        else:
            st.success(f"Within the normal range for this age group (percentile at or below {limit:.1f}).")
