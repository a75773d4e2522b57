"""Try the active model: run the active YOLO detect, segment or classify model on an uploaded image."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from db import queries
from db.session import session_scope
from engine.families import FAMILIES
from jobs import api
from ui.page import page
from ui import optional_module

page("Try a model")
st.title("Try the active model")

# families with their own view in ui/tryout/<key>.py; yolo's is the rest of this page
views = {key: view for key in FAMILIES if key != "yolo" and (view := optional_module(f"ui.tryout.{key}"))}
if views:
    family = st.radio("Family", ["yolo", *views], horizontal=True, key="try-family")
    if family in views:
        with session_scope() as s:
            models = queries.list_model_versions(session=s, family=family, active_only=True)
        if not models:
            st.info(f"No active {family} model yet: train one on the Launch page.")
            st.stop()
        model = st.selectbox("Model", models, key=f"try-{family}-model",
                             format_func=lambda m: f"#{m.id} · {m.scope or 'all'} · run #{m.run_id}")
        views[family].render_try(model)
        st.stop()

TASKS = ("detect", "segment", "classify")
top = st.columns([1, 1, 2])
task = top[0].selectbox("Task", TASKS)
with session_scope() as s:
    choices = queries.scope_versions(session=s, family="yolo", scope=task, task=task)
if not choices:
    st.info(f"No YOLO {task} model yet: train one on the Launch page (the Models page shows which one is active).")
    st.stop()
# active first: it is the default; candidates and archived ones can be tried before activating them
model = top[1].selectbox("Version", choices, format_func=lambda v: f"#{v.id} · {v.status} · run #{v.run_id}",
                         key=f"version-{task}")
shown = {k: v for k, v in (model.metrics or {}).items() if isinstance(v, (int, float)) and "/" in k}
if shown:
    top[2].caption("  ·  ".join(f"{k} {v:.3f}" for k, v in sorted(shown.items())[:8]))

upload = st.file_uploader("Image", type=["png", "jpg", "jpeg", "bmp", "webp"])
conf = st.slider("Confidence threshold", 0.0, 1.0, 0.25, 0.01, disabled=task == "classify")
if upload is None:
    st.stop()
if st.button("Run", type="primary"):
    try:
        with st.spinner("Running on a worker…"):
            result = api.request_prediction(model.id, {"image": upload.getvalue(), "conf": conf})
    except (TimeoutError, RuntimeError) as exc:
        st.error(str(exc))
        st.stop()
    left, right = st.columns([3, 2])
    left.image(result.get("image_png") or upload.getvalue(), caption=upload.name)
    with right:
        if result.get("top5"):
            st.subheader("Top 5")
            st.dataframe(pd.DataFrame(result["top5"])[["class", "confidence"]], hide_index=True)
        else:
            dets = result.get("detections", [])
            st.subheader(f"{len(dets)} object(s)")
            if dets:
                st.dataframe(pd.DataFrame([{"class": d["class"], "confidence": round(d["confidence"], 3),
                                            "box (x1, y1, x2, y2)": d["box"]} for d in dets]), hide_index=True)
else:
    st.image(upload.getvalue(), caption=upload.name, width=400)
