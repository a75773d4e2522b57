"""Shared results, read-only: opened with ``?token=...``. Shows the runs' headline metrics, their
family's own view, curves, metrics, config and files (gallery, previews, downloads checked against
their recorded sha256), and exports an HTML report and CSV. Nothing here enqueues, cancels,
activates or deletes: the page only reads (resolving the token included)."""
from __future__ import annotations

import streamlit as st

from jobs.sharing import open_link
from ui import comparison as cmp
from ui.artifacts import files_panel
from ui.metrics import fmt, headline_tiles, headline_values
from ui.page import page
from ui.report import html_report
from ui.tryout import render_results
from ui.widgets import status_badge

page("Results", public=True)

state = open_link(st.query_params.get("token"))
if not state.ok:
    st.error(state.message)
    st.stop()
link = state.link
if link.kind == "curve":  # a learning-curve study: its curves, sentences and export, nothing else
    from jobs.learning_curves import study_of_runs, study_result
    from ui.learning_curves import render_study, study_report

    study_id = study_of_runs(link.run_ids)
    result = study_result(study_id) if study_id is not None else None
    if result is None:
        st.warning("The study of this link no longer exists.")
        st.stop()
    st.title(link.title or f"Learning curve · {result.sweep.name}")
    st.caption("Shared read-only result · learning curve"
               + (f" · link valid until {link.expires_at:%Y-%m-%d}" if link.expires_at else ""))
    figures = render_study(result, key="shared-study")
    st.download_button("HTML report (opens offline)", study_report(result, figures), file_name="learning-curve.html",
                       mime="text/html", icon=":material/description:", key="html-report")
    st.stop()
data = cmp.load(link.run_ids, max_points=1000, with_baselines=False)
runs, summaries = data["runs"], data["summaries"]
names = cmp.run_labels(runs)
st.title(link.title or ("Run " + names[runs[0].id] if len(runs) == 1 else "Comparison"))
st.caption(f"Shared read-only result · {len(runs)} run(s)"
           + (f" · link valid until {link.expires_at:%Y-%m-%d}" if link.expires_at else ""))
if not runs:
    st.warning("The runs of this link no longer exist.")
    st.stop()

if link.model_version_id:
    version = next((v for v in data["versions"] if v.id == link.model_version_id), None)
    if version is not None:
        st.info(f"Model version #{version.id} · {version.family}{' ' + version.task if version.task else ''} · "
                f"scope {version.scope or '—'} · {version.status}")

for run in runs:
    with st.container(border=True):
        head = st.columns([4, 1])
        head[0].markdown(f"**{names[run.id]}** · {run.family}{' · ' + run.task if run.task else ''}"
                         f"{' · dataset ' + data['datasets'].get(run.dataset_id, '') if run.dataset_id else ''}")
        with head[1]:
            status_badge(run.status)
        if not headline_tiles(run.family, run.task, cmp.final_values(run, summaries)):
            st.caption("No headline metrics recorded.")
        render_results(run)

table = cmp.runs_frame(runs, summaries, dataset_names=data["datasets"], differences_only=len(runs) > 1)
metrics = cmp.metrics_frame(runs, summaries, names=sorted({s["name"] for s in summaries}
                                                            | {k for r in runs for k in (r.summary or {})}),
                            baselines={})
if len(runs) > 1:
    st.subheader("Runs")
    st.dataframe(table, hide_index=True, width="stretch")

st.subheader("Curves")
c = st.columns([1, 1])
align = c[0].radio("Align by", cmp.ALIGNS, horizontal=True, key="align")
smoothing = c[1].slider("Smoothing", 0.0, 0.99, 0.0, 0.01, key="smoothing")
figures = cmp.curve_figures(data["points"], align=align, smoothing=smoothing, labels=names)
cols = st.columns(2)
for i, (name, fig) in enumerate(figures.items()):
    cols[i % 2].plotly_chart(fig, width="stretch", key=f"curve-{name}")
if not figures:
    st.caption("No curves recorded.")

st.subheader("Metrics")
st.dataframe(metrics.drop(columns=["baseline", "delta"], errors="ignore"), hide_index=True, width="stretch")

st.subheader("Config")
for run in runs:
    with st.expander(names[run.id]):
        st.json(run.config)

st.subheader("Files")
for run in runs:
    with st.expander(f"{names[run.id]}: files and plots", expanded=len(runs) == 1):
        files_panel(run.id, key=f"shared-files-{run.id}")

tiles = {names[r.id]: {(h.label or h.name): fmt(v) for h, v in headline_values(r.family, r.task, cmp.final_values(r, summaries))}
         for r in runs}
report = html_report(title=link.title or "Trainyard results", tiles=tiles,
                     tables={"Runs": table, "Metrics": metrics.drop(columns=["baseline", "delta"], errors="ignore")},
                     figures=list(figures.values()), configs={names[r.id]: r.config for r in runs})
d = st.columns(2)
d[0].download_button("HTML report (opens offline)", report, file_name="trainyard-results.html", mime="text/html",
                     icon=":material/description:", key="html-report")
d[1].download_button("Metrics as CSV", metrics.to_csv(index=False), file_name="metrics.csv", mime="text/csv",
                     icon=":material/download:", key="csv-metrics")
