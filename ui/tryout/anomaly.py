"""Try an anomaly model: drawings are scored on the Analyze Drawing page, which picks the active
model of the drawing's age group; this view points there."""
from __future__ import annotations

import streamlit as st

__all__ = ["render_try"]


def render_try(model) -> None:
    """Anomaly models score drawings by age group: send the user to Analyze Drawing."""
    st.info(f"This model scores drawings of age group {model.scope or 'all'}: upload one on Analyze Drawing, "
            "which picks the active model of the drawing's age group.")
    st.page_link("pages/6_Analyze_Drawing.py", label="Analyze a drawing", icon=":material/draw:")
