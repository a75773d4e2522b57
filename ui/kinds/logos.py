"""Data sufficiency for ``logos`` datasets: usable images per category and split, unusable
images with their reasons, and the quality measures per category. The counting lives in
``engine.families.ppo.sufficiency`` (no training library is imported)."""
from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from db import queries
from db.models import Dataset
from db.session import session_scope
from engine.families.ppo.config import CATEGORIES
from engine.families.ppo.sufficiency import RECOMMENDED_PER_CATEGORY, category_stats, unusable, warnings
from ui.charts import categorical


def render_sufficiency(dataset: Dataset) -> None:
    with session_scope() as s:
        samples = queries.dataset_samples(session=s, dataset_id=dataset.id)
    if not samples:
        st.warning("This dataset has no images.")
        return
    summary = dataset.summary or {}
    stats = category_stats(samples)
    minimum = int(st.number_input("Minimum usable images per category", min_value=1, value=RECOMMENDED_PER_CATEGORY,
                                  key=f"logos-{dataset.id}-min",
                                  help="Below this a category is flagged; the Launch page blocks it via "
                                       "min_images_per_category."))
    cols = st.columns(4)
    cols[0].metric("images", len(samples))
    cols[1].metric("usable", sum(st_.usable for st_ in stats))
    cols[2].metric("unusable", sum(st_.unusable for st_ in stats))
    cols[3].metric("categories", sum(1 for st_ in stats if st_.usable))
    for w in warnings(stats, min_per_category=minimum):
        st.warning(w)
    if summary.get("mapping"):
        st.caption("Folders → categories: " + ", ".join(f"{k} → {v}" for k, v in summary["mapping"].items()))

    frame = pd.DataFrame([{"category": st_.category, "split": sp, "images": st_.splits[sp]}
                          for st_ in stats for sp in ("train", "val", "test")])
    left, right = st.columns(2)
    with left:
        fig = categorical(px.bar(frame, x="category", y="images", color="split", barmode="stack",
                     title="Usable images per category and split", category_orders={"category": list(CATEGORIES)}))
        fig.add_hline(y=minimum, line_dash="dot", annotation_text=f"minimum {minimum}")
        st.plotly_chart(fig, width="stretch")
    quality = pd.DataFrame([{"category": smp.label, **{k: (smp.meta or {}).get(k) for k in
                             ("sharpness", "contrast", "colours", "complexity", "width", "height")}}
                            for smp in samples if (smp.meta or {}).get("usable")])
    with right:
        if not quality.empty:
            measure = st.selectbox("Quality measure", ["complexity", "colours", "contrast", "sharpness"],
                                   key=f"logos-{dataset.id}-measure",
                                   help="complexity = share of edge pixels (Sobel); colours = distinct colours")
            st.plotly_chart(categorical(px.box(quality, x="category", y=measure, points="all", title=f"{measure} per category",
                                   category_orders={"category": list(CATEGORIES)})), width="stretch")
    bad = unusable(samples)
    if bad:
        st.subheader(f"{len(bad)} unusable image(s)")
        st.dataframe(pd.DataFrame(bad, columns=["file", "reason"]), hide_index=True, width="stretch")
