"""Per-kind data views. ``ui/kinds/<kind>.py`` defines ``render_sufficiency(dataset)``; kinds
without one get ``generic_sufficiency``."""
from __future__ import annotations

from collections import Counter
from types import ModuleType

import pandas as pd
import plotly.express as px
import streamlit as st

from db import queries
from db.models import Dataset
from db.session import session_scope
from ui import optional_module
from ui.charts import categorical


def kind_view(kind: str) -> ModuleType | None:
    return optional_module(f"ui.kinds.{kind}")


def generic_sufficiency(dataset: Dataset) -> None:
    """Samples per group and split, from the Sample rows."""
    with session_scope() as s:
        samples = queries.dataset_samples(session=s, dataset_id=dataset.id)
    if not samples:
        st.warning("This dataset has no valid samples.")
        return
    counts = Counter((smp.label or smp.group_key or "—", smp.split or "—") for smp in samples)
    frame = pd.DataFrame([{"group": g, "split": sp, "samples": n} for (g, sp), n in counts.items()])
    st.plotly_chart(categorical(px.bar(frame, x="group", y="samples", color="split", barmode="group",
                                       title="Samples per group and split")), width="stretch")
