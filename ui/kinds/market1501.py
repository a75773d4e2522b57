"""Data sufficiency for ``market1501`` datasets: identities, images and cameras per identity,
query identities missing from the gallery, the train/test overlap warning and junk/distractor
counts. The counting lives in ``engine.families.reid.sufficiency`` (no torch or torchreid here)."""
from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from db import queries
from db.models import Dataset
from db.session import session_scope
from engine.families.reid.sufficiency import identity_stats, name_list, short_identities, warnings

__all__ = ["render_sufficiency"]


def render_sufficiency(dataset: Dataset) -> None:
    with session_scope() as s:
        samples = queries.dataset_samples(session=s, dataset_id=dataset.id)
    if not samples:
        st.warning("This dataset has no valid images.")
        return
    stats = identity_stats(samples)
    key = f"market-{dataset.id}"
    c = st.columns(3)
    min_ids = int(c[0].number_input("Minimum train identities", min_value=1, value=10, key=f"{key}-ids",
                                    help="The Launch page blocks runs below min_identities."))
    min_imgs = int(c[1].number_input("Minimum images per identity", min_value=1, value=2, key=f"{key}-imgs",
                                     help="The Launch page blocks identities below min_images_per_identity."))
    k = int(c[2].number_input("num_instances (triplet batches)", min_value=1, value=4, key=f"{key}-k",
                              help="A triplet run takes this many images of each identity per batch."))
    cols = st.columns(6)
    cols[0].metric("train identities", len(stats.train_ids))
    cols[1].metric("test identities", len(stats.test_ids))
    cols[2].metric("train images", stats.images_per_split.get("train", 0))
    cols[3].metric("query images", stats.images_per_split.get("query", 0))
    cols[4].metric("gallery images", stats.images_per_split.get("gallery", 0))
    cols[5].metric("junk / distractors", f"{stats.junk} / {stats.distractors}")
    for w in warnings(stats, min_identities=min_ids, min_images_per_identity=min_imgs, num_instances=k):
        st.warning(w)
    short = short_identities(stats, k)
    if short:
        st.info(f"Identities a triplet batch of num_instances={k} cannot fill: "
                + name_list(short, stats.images["train"]))

    frame = pd.DataFrame(stats.rows())
    left, right = st.columns(2)
    with left:
        per_id = frame.groupby("split")["images"].describe()[["count", "min", "50%", "max"]]
        per_id.columns = ["identities", "fewest images", "median images", "most images"]
        st.markdown("**Images per identity**")
        st.dataframe(per_id, width="stretch")
        train = frame[frame.split == "train"]
        if not train.empty:
            fig = px.histogram(train, x="images", title="Train images per identity", nbins=30)
            fig.add_vline(x=min_imgs, line_dash="dot", annotation_text=f"minimum {min_imgs}")
            st.plotly_chart(fig, width="stretch")
    with right:
        fig = px.histogram(frame, x="cameras", color="split", barmode="group", title="Cameras per identity")
        st.plotly_chart(fig, width="stretch")
        missing = stats.query_missing_from_gallery
        if missing:
            st.error(f"{len(missing)} query identities are missing from the gallery: {name_list(missing)}")
        else:
            st.success("Every query identity has gallery images.")
    if stats.overlap:
        st.warning(f"Train/test overlap: {name_list(stats.overlap)}")
    with st.expander("Counts per identity"):
        st.dataframe(frame, hide_index=True, width="stretch")
