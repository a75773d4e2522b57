"""Progress: live status, progress and ETA, curves, metrics, resources, log; cancel/resume/retry/clone;
the run's files (gallery, previews, downloads), its reproducibility record, its notes and deletion."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from db import queries
from db.models import RunStatus
from db.session import session_scope
from jobs import api
from jobs.connection import QueueUnavailable
from jobs.logs import LOG_NAME, tail
from ui.artifacts import files_panel
from ui.catalog import show_start_note
from ui.charts import curve_figures, resource_figure
from ui.checkpoints import checkpoint_table
from ui.curves import snapshot
from ui.metrics import grouped_metric_tiles, headline_tiles, headline_values
from ui.notes import notes_panel
from ui.page import page
from ui.paging import page_of
from ui.reproduce import reproduce_panel
from ui.resources import resources_panel
from ui.sharing import share_box
from ui.tryout import render_results
from ui.widgets import age_seconds, duration, run_label, status_badge

page("Progress")
st.title("Progress")

STALE_AFTER_S = 120
PAGE_SIZE = 20  # runs offered per page: the database searches, counts and pages, however many runs there are
filters = st.columns([2, 3, 2, 1])
statuses = filters[0].multiselect("Status", [s.value for s in RunStatus], placeholder="all statuses")
search = filters[1].text_input("Search runs", placeholder="id, name, tag, family, status, dataset or date (2026-12-03)",
                               key="run-search")
with session_scope() as s:
    known_tags = queries.run_tags(session=s)
tags = filters[2].multiselect("Tags", known_tags, placeholder="any tags", key="run-tags")
wanted = st.query_params.get("run")
wanted_id = int(wanted) if wanted and wanted.isdigit() else None
with session_scope() as s:
    runs, total = page_of(lambda offset, limit: queries.search_runs(
        session=s, query=search, statuses=statuses or None, tags=tags or None, offset=offset, limit=limit),
        key="run-page", size=PAGE_SIZE, where=filters[3], noun="runs")
    if wanted_id is not None and wanted_id not in {r.id for r in runs} and not (statuses or search or tags):
        runs = queries.find_runs(session=s, run_ids=[wanted_id], limit=1) + runs  # a linked run, wherever it pages
if not runs:
    st.info("No runs match. Launch one on the Launch Training page." if not (statuses or search or tags)
            else "No runs match these filters.")
    st.stop()

ids = [r.id for r in runs]
index = ids.index(wanted_id) if wanted_id in ids else 0
run = st.selectbox("Run", runs, index=index, format_func=run_label,
                   help=f"{total} runs match; this page shows {len(runs)}" if total > len(runs) else None)
st.query_params["run"] = str(run.id)


def _checkpoint_label(c) -> str:
    bits = [f"#{c.id} step {c.step}", Path(c.path).name]
    if c.monitored is not None:
        bits.append(f"monitored {c.monitored:.4g}")
    if c.best:
        bits.append("best")
    return " · ".join(bits)


def actions(run, *, ckpts: list) -> None:
    status = RunStatus(run.status)
    cols = st.columns(4)
    cols[3].page_link("pages/2_Launch_Training.py", label="Clone and edit", icon=":material/content_copy:",
                      query_params={"clone": str(run.id)},
                      help="Open Launch Training with this run's family, dataset and config filled in")
    if status.active and cols[0].button("Cancel", icon=":material/stop_circle:", disabled=run.cancel_requested):
        api.cancel_run(run.id)
        st.toast(f"Run #{run.id}: cancel requested; it stops at its next batch.")
        st.rerun()
    if status in (RunStatus.cancelled, RunStatus.failed):
        # newest first: the default is the latest one; the worker verifies its sha256 again before loading it
        newest_first = sorted(ckpts, key=lambda c: (c.step, c.id), reverse=True)
        chosen = st.selectbox("Resume from checkpoint", newest_first, format_func=_checkpoint_label,
                              key=f"resume-pick-{run.id}",
                              help="Only a checkpoint whose file still has its recorded sha256 is loaded; "
                                   "metrics logged after it are dropped and logged again") if ckpts else None
        if chosen is not None and cols[1].button("Resume from checkpoint", icon=":material/play_arrow:"):
            try:
                api.resume_run(run.id, checkpoint_id=chosen.id)
                st.rerun()
            except (LookupError, ValueError, QueueUnavailable) as exc:
                st.error(str(exc))
        if cols[2].button("Retry from scratch", icon=":material/replay:"):
            try:
                new = api.retry_run(run.id)
            except QueueUnavailable as exc:
                st.error(str(exc))
                return
            st.query_params["run"] = str(new.id)
            st.rerun()


def live(run_id: int) -> None:
    with session_scope() as s:
        run = queries.get_run(session=s, run_id=run_id)
        # curves kept in the dashboard process: only metric rows newer than the last refresh are read
        series, latest = snapshot(s, run_id, attempt=(str(run.started_at), run.resume_from))
        samples = queries.resource_samples(session=s, run_id=run_id, limit=600)
        ckpts = queries.checkpoints_per_file(session=s, run_id=run_id)
    status = RunStatus(run.status)
    actions(run, ckpts=ckpts)

    head = st.columns([1, 4])
    with head[0]:
        status_badge(status)
    with head[1]:
        bits = [f"worker {run.worker}" if run.worker else "", f"phase {run.phase}" if run.phase else ""]
        if run.started_at:
            elapsed = age_seconds(run.started_at) - (age_seconds(run.finished_at) or 0)
            bits.append(f"{'took' if status.finished else 'running'} {duration(elapsed)}")
        st.caption(" · ".join(filter(None, bits)))
    if status == RunStatus.failed and run.error:
        st.error(run.error)
    if run.cancel_requested and status.active:
        st.warning("Cancel requested: the run stops at its next batch or epoch.")
    beat = age_seconds(run.heartbeat_at)
    if status in (RunStatus.preparing, RunStatus.training) and beat is not None and beat > STALE_AFTER_S:
        st.warning(f"No heartbeat for {duration(beat)}: the worker may have died.")
    if run.stalled_at and status == RunStatus.training:
        st.warning(f"Stalled: no progress for {duration(age_seconds(run.progress_at or run.started_at))} while its "
                   f"worker {run.worker or ''} still heartbeats (the trainer may be stuck).", icon=":material/hourglass_disabled:")

    if run.progress_total:
        eta = f" · ETA {duration(run.eta_s)}" if status.active and run.eta_s is not None else ""
        st.progress(min(run.progress, 1.0),
                    text=f"{run.phase or 'train'}: {run.progress_done}/{run.progress_total} ({run.progress:.0%}){eta}")
    elif status == RunStatus.pending:
        st.progress(0.0, text="waiting for a worker")

    if latest or run.summary:
        # the run's final summary once it has one, else the newest logged values
        values = {**latest, **{k: v for k, v in (run.summary or {}).items() if isinstance(v, (int, float))}}
        st.subheader("Result" if run.summary else "Latest metrics")
        headline_tiles(run.family, run.task, values)
        # headlines appear once, on top; every other value sits under its stage
        grouped_metric_tiles(values, skip={h.name for h, _ in headline_values(run.family, run.task, values)[:6]})

    figures = curve_figures({run_id: series})
    if figures:
        st.subheader("Curves")
        st.caption("train solid · val dashed · test dotted")
        cols = st.columns(2)
        for i, (name, fig) in enumerate(figures.items()):
            cols[i % 2].plotly_chart(fig, width="stretch", key=f"curve-{name}")

    if samples:
        st.subheader("Resources")
        resources_panel(run, samples)
        st.plotly_chart(resource_figure(samples), width="stretch", key="resources")

    if ckpts:
        with st.expander(f"Checkpoints ({len(ckpts)} files)"):
            checkpoint_table(ckpts, key=f"ckpt-{run_id}")
    if run.out_dir:
        log = Path(run.out_dir) / LOG_NAME
        st.subheader("Log")
        st.code(tail(log, lines=60) or "(empty)", language=None, wrap_lines=True)
        if log.is_file():
            st.download_button("Full log", data=log.read_bytes, file_name=f"run-{run_id}-{LOG_NAME}",
                               mime="text/plain", key="log-download", on_click="ignore",
                               icon=":material/download:")


if run.description or run.tags or run.cloned_from or run.parent_id:
    st.caption(" · ".join(filter(None, [
        run.description.splitlines()[0][:200] if run.description else "",
        " ".join(f"`{t}`" for t in run.tags or []),
        f"cloned from run #{run.cloned_from}" if run.cloned_from else "",
        f"retry of run #{run.parent_id}" if run.parent_id else ""])))

overview, files_tab, reproduce_tab, notes_tab = st.tabs(["Overview", "Files", "Reproduce", "Notes"])
with overview:
    show_start_note(run.family, run.config)  # trains from scratch / demo features: said plainly
    # only a run that can still change polls the database; the buttons live inside the refreshing
    # part, so a run that finishes or fails while the page is open loses Cancel and offers Resume
    st.fragment(run_every=2 if RunStatus(run.status).active else None)(live)(run.id)
    render_results(run)
    with st.expander("Config"):
        st.json(run.config)
    if RunStatus(run.status).finished:
        links = st.columns([1, 3])
        links[0].page_link("pages/4_Model_Comparison.py", label="Compare with other runs", icon=":material/compare:",
                           query_params={"runs": str(run.id)})
        with st.expander("Share this run"):
            share_box([run.id], default_title=f"Run #{run.id} {run.name}", key="share-run")
with files_tab:
    files_panel(run.id, key=f"files-{run.id}")
with reproduce_tab:
    reproduce_panel(run, key=f"reproduce-{run.id}")
with notes_tab:
    notes_panel(run, key=f"notes-{run.id}")
