"""How the Launch page and the sweep launcher show the data sufficiency gate's refusal: a task
the dataset cannot train is said as such, apart from the reasons that are a shortage of data."""
from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from engine.core import TaskMismatch

__all__ = ["show_blockers"]


def show_blockers(reasons: Sequence[str], *, what: str = "launch") -> None:
    """One error per kind of reason (task mismatch, not enough data), each listing its reasons."""
    mismatch = [r for r in reasons if isinstance(r, TaskMismatch)]
    shortage = [r for r in reasons if not isinstance(r, TaskMismatch)]
    if mismatch:
        st.error(f"The config's task does not match this dataset, so this {what} is refused:")
        for r in mismatch:
            st.markdown(f"- {r}")
    if shortage:
        st.error(f"Not enough data for this {what}:")
        for r in shortage:
            st.markdown(f"- {r}")
