"""Data sufficiency for ``transitions`` datasets: transitions per patient, the per-patient split a
launch would use, action distributions per axis and problems. Counting lives in
``engine.families.transition.sufficiency`` (no training library is imported here)."""
from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from db import queries
from db.models import Dataset
from db.session import session_scope
from engine.families.transition.config import AXES, TransitionConfig
from engine.families.transition.sufficiency import samples_per_group, split_preview, warnings
from ui.charts import categorical

__all__ = ["render_sufficiency"]


def render_sufficiency(dataset: Dataset) -> None:
    with session_scope() as s:
        samples = queries.dataset_samples(session=s, dataset_id=dataset.id)
    if not samples:
        st.warning("This dataset has no valid transitions.")
        return
    key = f"transitions-{dataset.id}"
    per_group = samples_per_group(samples)
    c = st.columns(3)
    minimum = int(c[0].number_input("min transitions per patient", min_value=1, value=5, key=f"{key}-min"))
    train = float(c[1].slider("train share of patients", 0.3, 0.9, 0.7, 0.05, key=f"{key}-train"))
    holdout = round((1 - train) / 2, 4)
    config = TransitionConfig(train_ratio=train, val_ratio=holdout, test_ratio=round(1 - train - holdout, 4))
    cols = st.columns(4)
    cols[0].metric("patients", len(per_group))
    cols[1].metric("transitions", len(samples))
    cols[2].metric("patients below minimum", sum(1 for n in per_group.values() if n < minimum))
    cols[3].metric("flagged (at2 inconsistent)", sum(1 for smp in samples if smp.flags))
    for w in warnings(per_group, config):
        st.warning(w)
    split = split_preview(list(per_group), config)
    if isinstance(split, str):
        st.error(f"No per-patient split: {split}")
        owner = {}
    else:
        owner = {p: s for s, names in split.items() for p in names}
        st.caption("Automatic split (seed 42): " + "; ".join(f"{s}: {', '.join(split[s])}" for s in split))
    frame = pd.DataFrame([{"patient": p, "transitions": n, "split": owner.get(p, "—")} for p, n in per_group.items()])
    left, right = st.columns(2)
    fig = categorical(px.bar(frame, x="patient", y="transitions", color="split", title="Transitions per patient"))
    fig.add_hline(y=minimum, line_dash="dot", annotation_text=f"minimum {minimum}")
    left.plotly_chart(fig, width="stretch")
    actions = pd.DataFrame([{"axis": a, "value": smp.meta["change"][k]} for smp in samples
                            for k, a in enumerate(AXES) if len((smp.meta or {}).get("change") or []) == 6])
    right.plotly_chart(categorical(px.box(actions, x="axis", y="value", title="Action distribution per axis")), width="stretch")
    problems = (dataset.summary or {}).get("problems", [])
    if problems:
        with st.expander(f"Problems ({len(problems)})"):
            st.code("\n".join(problems[:200]), language="text")
