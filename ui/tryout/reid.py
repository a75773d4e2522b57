"""Try the active reid model: a query (from the test split, or an uploaded person crop) and its
top-k gallery matches as pictures, true matches framed green and false red. The ranking runs on
a worker (``engine.families.reid.predict``); nothing heavy is imported here."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from db import queries
from db.session import session_scope
from jobs import api

__all__ = ["render_try"]

_K = "try-reid"


def render_try(model) -> None:
    """Rank the gallery of the dataset ``model`` (a reid model version) was trained on."""
    st.caption(f"Model #{model.id} · trained on {model.scope} · run #{model.run_id}")
    with session_scope() as s:
        ds = queries.get_dataset_by_name(session=s, name=model.scope)
        query_paths = sorted(smp.path for smp in queries.dataset_samples(session=s, dataset_id=ds.id)
                             if smp.split == "query" and not smp.flags) if ds else []
    c = st.columns([2, 2, 1])
    source = c[0].radio("Query", ["From the test split", "Upload a person crop"], horizontal=True, key=f"{_K}-src")
    top_k = int(c[2].number_input("top-k", min_value=1, max_value=50, value=10, key=f"{_K}-k"))
    payload: dict = {"top_k": top_k}
    if source == "From the test split":
        if not query_paths:
            st.info(f"Dataset {model.scope!r} has no query images; upload a crop instead.")
            return
        payload["query_path"] = c[1].selectbox("Query image", query_paths, key=f"{_K}-query")
    else:
        upload = c[1].file_uploader("Person crop", type=["jpg", "jpeg", "png"], key=f"{_K}-upload")
        if upload is None:
            return
        payload["image"] = upload.getvalue()
    if not st.button("Rank the gallery", type="primary", key=f"{_K}-run"):
        return
    try:
        with st.spinner("Ranking on a worker…"):
            result = api.request_prediction(model.id, payload, timeout_s=120)
    except (TimeoutError, RuntimeError) as exc:
        st.error(str(exc))
        return
    st.image(result["image_png"], caption=f"query and its top-{len(result['matches'])} of "
                                          f"{result['gallery_size']} gallery images (green: same person, red: not)",
             width="stretch")
    hits = [m["match"] for m in result["matches"] if m["match"] is not None]
    if hits:
        st.caption(f"{sum(hits)} of the top {len(hits)} are the query's identity {result['query']['identity']}.")
    st.dataframe(pd.DataFrame(result["matches"]), hide_index=True, width="stretch")

