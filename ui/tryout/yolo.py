"""Try a YOLO model: run the active detect, segment or classify model on an uploaded image (on a
worker) and show the annotated image beside the detections or the top-5 classes."""
from __future__ import annotations

import pandas as pd
import streamlit as st

__all__ = ["render_try"]


def render_try(model) -> None:
    """Upload an image, predict on a worker with ``model``, show boxes/masks or the top 5."""
    classify = model.task == "classify"
    upload = st.file_uploader("Image", type=["png", "jpg", "jpeg", "bmp", "webp"], key="yolo-image")
    conf = st.slider("Confidence threshold", 0.0, 1.0, 0.25, 0.01, disabled=classify, key="yolo-conf")
    if upload is None:
        return
    if not st.button("Run", type="primary", key="yolo-go"):
        st.image(upload.getvalue(), caption=upload.name, width=400)
        return
    from jobs import api

    try:
        with st.spinner("Running on a worker…"):
            result = api.request_prediction(model.id, {"image": upload.getvalue(), "conf": conf})
    except (TimeoutError, RuntimeError) as exc:
        st.error(str(exc))
        return
    left, right = st.columns([3, 2])
    # the annotated image fills its column (scaled up when small) so labels and boxes can be read
    left.image(result.get("image_png") or upload.getvalue(), caption=upload.name, width="stretch")
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
