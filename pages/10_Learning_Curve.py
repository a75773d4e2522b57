"""Learning curves: would more data help? A study's curves (``?study=ID``), its fit and sentence
per group, a read-only share link and an HTML export. Studies start on the Data Sufficiency page
or with ``python -m engine learning-curve FAMILY --dataset NAME``."""
from __future__ import annotations

import streamlit as st

from db import queries
from db.session import session_scope
from jobs.learning_curves import KIND, study_result
from jobs.sweeps import cancel_sweep
from ui.learning_curves import render_study, study_report
from ui.page import page
from ui.paging import sweep_picker
from ui.sharing import share_box

page("Learning curve")
st.title("Learning curves")

study, searched = sweep_picker(kind=KIND, param="study", label="Study", key="studies")
if study is None:
    st.info("No study matches this search." if searched else
            "No learning-curve study yet. Start one on the Data Sufficiency page or with "
            "`python -m engine learning-curve FAMILY --dataset NAME`.")
    st.stop()


@st.fragment(run_every=3)
def live(study_id: int) -> None:
    result = study_result(study_id)
    figures = render_study(result, key=f"study-{study_id}")
    if result.sweep.status == "running":
        if st.button("Cancel the study", icon=":material/cancel:", key=f"cancel-{study_id}"):
            cancel_sweep(study_id)
            st.rerun()
    else:
        st.download_button("HTML report (opens offline)", study_report(result, figures),
                           file_name=f"learning-curve-{study_id}.html", mime="text/html",
                           icon=":material/description:", key=f"html-{study_id}")


live(study.id)
with session_scope() as s:
    run_ids = [r.id for r in queries.sweep_runs(session=s, sweep_id=study.id)]
if run_ids:
    share_box(run_ids, default_title=f"Learning curve · {study.name}", key=f"share-study-{study.id}", kind="curve")
