"""Try the active model: run the active YOLO detect, segment or classify model on an uploaded image."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from db import queries
from db.session import session_scope
from jobs import api

st.set_page_config(page_title="Try a model · Trainyard", page_icon=":material/image_search:", layout="wide")
st.title("Try the active model")

TASKS = ("detect", "segment", "classify")
top = st.columns([1, 1, 2])
task = top[0].selectbox("Task", TASKS)
with session_scope() as s:
    model = queries.active_model(session=s, family="yolo", scope=task, task=task)
if model is None:
    st.info(f"No active YOLO {task} model yet: train one on the Launch page (the newest completed run becomes active).")
    st.stop()
top[1].metric("model version", f"#{model.id}", help=f"run #{model.run_id}")
shown = {k: v for k, v in (model.metrics or {}).items() if isinstance(v, (int, float)) and "/" in k}
if shown:
    top[2].caption("  ·  ".join(f"{k} {v:.3f}" for k, v in sorted(shown.items())[:8]))

upload = st.file_uploader("Image", type=["png", "jpg", "jpeg", "bmp", "webp"])
conf = st.slider("Confidence threshold", 0.0, 1.0, 0.25, 0.01, disabled=task == "classify")
if upload is None:
    st.stop()
if st.button("Run", type="primary"):
    try:
        queued = st.empty()

        def waiting(position):
            queued.caption(f"In the scoring queue: {position} request(s) ahead" if position else "Scoring…")

        with st.spinner("Scoring on the scoring worker…"):
            result = api.request_prediction(model.id, {"image": upload.getvalue(), "conf": conf}, on_wait=waiting)
        queued.empty()
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
