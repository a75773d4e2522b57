"""Sweeps: progress, the best trial so far, metric by trial, parallel coordinates, importance."""
from __future__ import annotations

import streamlit as st

from db import queries
from db.session import session_scope
from ui.page import page
from ui.paging import sweep_picker
from ui.sweeps import best_trial, metric_vs_trial_figure, parallel_coordinates_figure, sweep_counts, trial_table, varied_keys

page("Sweeps")
st.title("Sweeps")

sweep, searched = sweep_picker(kind="search", param="sweep", label="Sweep", key="sweeps")
if sweep is None:
    st.info("No sweep matches this search." if searched else
            "No sweep yet. Start one on the Launch Training page (mode: Sweep) or with "
            "`python -m engine sweep FAMILY --space configs/sweeps/FAMILY.yaml`.")
    st.stop()


@st.fragment(run_every=3)
def live(sweep_id: int) -> None:
    with session_scope() as s:
        sw = queries.get_sweep(session=s, sweep_id=sweep_id)
        runs = queries.sweep_runs(session=s, sweep_id=sweep_id)
    counts = sweep_counts(runs, sw)
    st.caption(f"{sw.method} search · {sw.direction} `{sw.metric}` · pruner {sw.pruner} · "
               f"{sw.parallel} at a time · status **{sw.status}**")
    cols = st.columns(6)
    cols[0].metric("trials", f"{len(runs)} / {sw.max_trials}")
    for col, name in zip(cols[1:], ("done", "running", "queued", "pruned", "failed")):
        col.metric(name, counts[name])
    st.progress(min(1.0, (len(runs) - counts["running"] - counts["queued"]) / max(1, sw.max_trials)))
    best = best_trial(runs, sw)
    if best is not None:
        keys = varied_keys(sw)
        st.success(f"Best so far: trial {best.trial_number} (run #{best.id}) · {sw.metric} = "
                   f"{best.summary[sw.metric]:.5g}")
        st.json({k: best.config.get(k) for k in keys}, expanded=True)
    if runs:
        st.plotly_chart(metric_vs_trial_figure(runs, sw), width="stretch")
        par = parallel_coordinates_figure(runs, sw)
        if par is not None:
            st.markdown("**Parameters → metric**")
            st.plotly_chart(par, width="stretch")
        st.dataframe(trial_table(runs, sw), hide_index=True, width="stretch")


live(sweep.id)

with session_scope() as s:
    runs = queries.sweep_runs(session=s, sweep_id=sweep.id)
best = best_trial(runs, sweep)
cols = st.columns(4)
if sweep.status == "running" and cols[0].button("Cancel the sweep", icon=":material/stop_circle:"):
    from jobs.sweeps import cancel_sweep

    cancel_sweep(sweep.id)
    st.toast(f"Sweep #{sweep.id} cancelled: queued trials will not start, running ones stop.")
    st.rerun()
finished = [r for r in runs if r.summary.get(sweep.metric) is not None]
top = sorted(finished, key=lambda r: r.summary[sweep.metric], reverse=sweep.direction == "maximize")[:5]
if len(top) >= 2:
    cols[1].page_link("pages/4_Model_Comparison.py", label=f"Compare the top {len(top)} trials",
                      icon=":material/compare:", query_params={"runs": ",".join(str(r.id) for r in top)})
if best is not None:
    cols[2].page_link("pages/3_Progress.py", label=f"Open the best trial (run #{best.id})",
                      icon=":material/monitoring:", query_params={"run": str(best.id)})
    with session_scope() as s:
        versions = queries.model_versions_for_runs(session=s, run_ids=[best.id])
    if versions:
        version = versions[0]
        if version.active:
            cols[3].success(f"Model #{version.id} of the best trial is active for {version.scope or 'its scope'}.")
        elif cols[3].button(f"Activate the best trial's model (#{version.id})", icon=":material/verified:"):
            from jobs import registry

            registry.activate(version.id, reason=f"best trial of sweep #{sweep.id}")
            st.toast(f"Model #{version.id} is now active for {version.scope or 'its scope'}.")
            st.rerun()

done = [r for r in runs if r.status.value == "completed"]
if len(done) >= 3 and st.button("Compute parameter importance (Optuna)"):
    from jobs.sweeps import param_importance

    with st.spinner("fANOVA over the finished trials…"):
        importance = param_importance(sweep.id)
    if importance:
        st.bar_chart(importance, horizontal=True)
    else:
        st.info("Not enough varied, finished trials to estimate importance yet.")
