"""Data sufficiency for ``yolo`` datasets: images and instances per class and split, class
balance, box sizes and warnings. The counting lives in ``engine.families.yolo.sufficiency``
(no training library is imported)."""
from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from db import queries
from db.models import Dataset
from db.session import session_scope
from engine.families.yolo.sufficiency import box_size_bins, dataset_stats, warnings
from ui.charts import categorical


def render_sufficiency(dataset: Dataset) -> None:
    with session_scope() as s:
        samples = queries.dataset_samples(session=s, dataset_id=dataset.id)
    summary = dataset.summary or {}
    if not samples:
        st.warning("This dataset has no valid images.")
        return
    stats = dataset_stats(samples, summary.get("names", []))
    task = summary.get("task") or "?"
    minimum = st.number_input("Minimum training images per class", min_value=1, value=100, step=10,
                              help="Images of the train split holding the class; below this a class is "
                                   "flagged, and the Launch page blocks it via min_per_class.")
    cols = st.columns(5)
    cols[0].metric("task", task)
    cols[1].metric("classes", len(stats.classes))
    for col, split in zip(cols[2:], ("train", "val", "test")):
        col.metric(f"{split} images", stats.images_per_split.get(split, 0))
    for w in warnings(stats, min_per_class=int(minimum)):
        st.warning(w)
    if summary.get("excluded_images"):
        st.info(f"{summary['excluded_images']} image(s) are left out of training because of the problems below.")

    frame = pd.DataFrame(stats.rows())
    left, right = st.columns(2)
    with left:
        fig = categorical(px.bar(frame, x="class", y="images", color="split", barmode="group", title="Images per class and split"))
        fig.add_hline(y=int(minimum), line_dash="dot", annotation_text=f"minimum {int(minimum)}")
        st.plotly_chart(fig, width="stretch")
    with right:
        if task == "classify":
            totals = pd.DataFrame([{"class": c.name, "images": c.total_images} for c in stats.classes])
            st.plotly_chart(px.pie(totals, names="class", values="images", title="Class balance"), width="stretch")
        else:
            fig = categorical(px.bar(frame, x="class", y="instances", color="split", barmode="group",
                         title="Instances (objects) per class and split"))
            st.plotly_chart(fig, width="stretch")
    if stats.box_sides:
        left, right = st.columns(2)
        sides = pd.DataFrame({"box size (sqrt(w·h), fraction of image side)": stats.box_sides})
        left.plotly_chart(px.histogram(sides, x=sides.columns[0], nbins=30, title="Box size distribution"),
                          width="stretch")
        bins = pd.DataFrame([{"size": k, "boxes": v} for k, v in box_size_bins(stats.box_sides).items()])
        right.plotly_chart(categorical(px.bar(bins, x="size", y="boxes", title="Boxes by size band")), width="stretch")
    if stats.backgrounds:
        st.caption(f"{stats.backgrounds} background image(s) without objects.")
    with st.expander("Counts table"):
        st.dataframe(frame.pivot_table(index="class", columns="split", values=["images", "instances"], fill_value=0),
                     width="stretch")
