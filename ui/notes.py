"""A run's notes (description and tags, editable whatever its state) and its deletion behind a
confirmation (refused while it is active or its model is)."""
from __future__ import annotations

import streamlit as st

from jobs import housekeeping

__all__ = ["notes_panel", "tags_text"]

ACTOR = "dashboard"  # no logins: the audit line says where the change came from


def tags_text(tags) -> str:
    return ", ".join(tags or [])


def notes_panel(run, *, key: str) -> None:
    description = st.text_area("Description", value=run.description or "", key=f"{key}-description",
                               placeholder="what this run tries, what came of it",
                               max_chars=housekeeping.MAX_DESCRIPTION_CHARS)
    tags = st.text_input("Tags", value=tags_text(run.tags), key=f"{key}-tags", placeholder="baseline, lr-sweep",
                         help=f"comma-separated, at most {housekeeping.MAX_TAGS}; search and filter runs by them on "
                              "Progress and Model Comparison")
    if st.button("Save notes", key=f"{key}-save", icon=":material/save:"):
        try:
            housekeeping.set_notes(run.id, description=description, tags=tags)
        except (ValueError, LookupError) as exc:
            st.error(str(exc))
        else:
            st.toast(f"Run #{run.id}: notes saved.")
            st.rerun()

    st.divider()
    st.markdown("**Delete this run**")
    blockers = housekeeping.deletion_blockers(run.id)
    if blockers:
        for reason in blockers:
            st.caption(f":material/block: Cannot delete: {reason}.")
        return
    st.caption("Removes the run, its metrics, checkpoints, files and model versions for good; the audit trail "
               "(Models page) keeps a line saying so.")
    sure = st.checkbox(f"Yes, delete run #{run.id} {run.name!r} and everything it made", key=f"{key}-confirm")
    if st.button("Delete run", key=f"{key}-delete", type="primary", disabled=not sure, icon=":material/delete:"):
        try:
            counts = housekeeping.delete_run(run.id, actor=ACTOR)
        except (housekeeping.RunNotDeletable, LookupError) as exc:
            st.error(str(exc))
            return
        st.query_params.pop("run", None)
        st.toast(f"Run #{run.id} deleted ({counts.get('metrics', 0)} metric rows, {counts.get('files', 0)} files).")
        st.rerun()
