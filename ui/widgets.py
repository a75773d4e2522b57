"""Small Streamlit widgets: status badges, run labels, durations."""
from __future__ import annotations

from datetime import datetime, timezone

import streamlit as st

from db.models import Run, RunStatus

STATUS_STYLE = {
    RunStatus.pending: ("gray", ":material/schedule:"),
    RunStatus.preparing: ("blue", ":material/hourglass_top:"),
    RunStatus.training: ("blue", ":material/play_circle:"),
    RunStatus.completed: ("green", ":material/check_circle:"),
    RunStatus.failed: ("red", ":material/error:"),
    RunStatus.cancelled: ("orange", ":material/cancel:"),
}


def status_badge(status: RunStatus) -> None:
    colour, icon = STATUS_STYLE[RunStatus(status)]
    st.badge(RunStatus(status).value, icon=icon, color=colour)


def run_label(run: Run) -> str:
    status = RunStatus(run.status).value
    if getattr(run, "stalled_at", None) and RunStatus(run.status) == RunStatus.training:
        status += " (stalled)"
    tags = getattr(run, "tags", None)
    return f"#{run.id} {run.name} · {run.family} · {status}" + (f" · {', '.join(tags)}" if tags else "")


def human_size(n: int | None) -> str:
    """Bytes as B, KB, MB or GB (binary units, one decimal)."""
    if n is None:
        return "—"
    if n < 1024:
        return f"{n} B"
    for unit in ("KB", "MB", "GB"):
        n /= 1024
        if n < 1024 or unit == "GB":
            break
    return f"{n:.1f} {unit}"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h {m:02d}m" if h else (f"{m}m {s:02d}s" if m else f"{s}s")


def age_seconds(when: datetime | None) -> float | None:
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return (datetime.now(timezone.utc) - when).total_seconds()
