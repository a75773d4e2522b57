"""Try a YOLO model: run the active detect, segment or classify model on an uploaded image (on a
worker) and show the annotated image beside the detections or the top-5 classes."""
from __future__ import annotations

import pandas as pd
import streamlit as st

__all__ = ["render_try", "render_results", "dataset_frame"]


def dataset_frame(dataset) -> pd.DataFrame:
    """Images and instances per class and split of a yolo dataset (from its imported samples)."""
    from db import queries
    from db.session import session_scope
    from engine.families.yolo.sufficiency import dataset_stats

    with session_scope() as s:
        samples = queries.dataset_samples(session=s, dataset_id=dataset.id)
    return pd.DataFrame(dataset_stats(samples, (dataset.summary or {}).get("names", [])).rows(),
                        columns=["class", "split", "images", "instances"])


def render_results(run) -> None:
    """The run's data: images and instances per split (tiles) and per class (chart, table); the
    training view's split sizes (``data/*_images``) sit among the run's tiles."""
    import plotly.express as px

    from db import queries
    from db.session import session_scope
    from ui.charts import categorical

    if run.dataset_id is None:
        return
    with session_scope() as s:
        dataset = queries.get_dataset(session=s, dataset_id=run.dataset_id)
    if dataset is None:
        return
    frame = dataset_frame(dataset)
    if frame.empty:
        return
    st.markdown(f"**Dataset** {dataset.name} · {(dataset.summary or {}).get('task', '?')}")
    per_split = frame.groupby("split")[["images", "instances"]].sum()
    cols = st.columns(max(len(per_split), 1) + 1)
    cols[0].metric("classes", frame["class"].nunique())
    for col, (split, row) in zip(cols[1:], per_split.iterrows()):
        col.metric(f"{split} images", int(row["images"]), help=f"{int(row['instances'])} instances (objects) in {split}")
    fig = categorical(px.bar(frame, x="class", y="instances", color="split", barmode="group",
                             title="Instances per class and split"))
    st.plotly_chart(fig, width="stretch", key=f"yolo-dataset-{run.id}")
    with st.expander("Images and instances per class and split"):
        st.dataframe(frame.pivot_table(index="class", columns="split", values=["images", "instances"], fill_value=0),
                     width="stretch")


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
