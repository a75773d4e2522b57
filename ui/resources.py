"""Resources of runs and machines as the pages show them: alerts against the thresholds in the
settings (``TRAINYARD_ALERT_*``), a run's own CPU/RAM, every GPU it sees, free disk, and the
run's resource summary (peak RAM, peak GPU memory, GPU-hours)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import streamlit as st

from db.models import ResourceSample, Run
from engine.resources import disk_free_gb
from settings import Settings, get_settings

__all__ = ["alerts", "disk_alerts", "gpu_rows", "resources_panel", "summary_text"]


def alerts(sample: ResourceSample | None, settings: Settings | None = None) -> list[str]:
    """Plain-language alerts about one reading against the thresholds in the settings."""
    if sample is None:
        return []
    s = settings or get_settings()
    out = []
    if sample.ram_percent >= s.alert_ram_percent:
        out.append(f"RAM use is {sample.ram_percent:.0f}% of the machine (alert at {s.alert_ram_percent:g}%): "
                   "the run may be killed; lower batch size or workers.")
    if sample.cpu_percent >= s.alert_cpu_percent:
        out.append(f"CPU is at {sample.cpu_percent:.0f}% (alert at {s.alert_cpu_percent:g}%): data loading may be "
                   "the bottleneck.")
    gpus = sample.gpus or []
    if gpus:
        for g in gpus:
            mem = _percent(g)
            if mem is not None and mem >= s.alert_gpu_mem_percent:
                out.append(f"GPU {g.get('index')} memory is {mem:.0f}% full (alert at {s.alert_gpu_mem_percent:g}%): "
                           "lower batch size or image size.")
            temp = g.get("temp_c")
            if temp is not None and temp >= s.alert_gpu_temp_c:
                out.append(f"GPU {g.get('index')} is at {temp:.0f} °C (alert at {s.alert_gpu_temp_c:g} °C): check "
                           "the machine's cooling.")
    elif sample.gpu_mem_percent is not None and sample.gpu_mem_percent >= s.alert_gpu_mem_percent:
        out.append(f"GPU memory is {sample.gpu_mem_percent:.0f}% full (alert at {s.alert_gpu_mem_percent:g}%): "
                   "lower batch size or image size.")
    if s.alert_disk_free_gb:
        for label, free in (("home", sample.disk_home_free_gb), ("artifact", sample.disk_artifacts_free_gb)):
            if free is not None and free < s.alert_disk_free_gb:
                out.append(f"The {label} folder's disk has {free:.1f} GB free (alert below {s.alert_disk_free_gb:g} GB) "
                           "on the run's machine: checkpoints may fail to write.")
    return out


def disk_alerts(settings: Settings | None = None) -> list[str]:
    """Free disk of this installation's home and artifact folders, as seen from the dashboard."""
    s = settings or get_settings()
    if not s.alert_disk_free_gb:
        return []
    out = []
    for label, path in (("home", s.resolved_home), ("artifact", s.resolved_artifacts_dir)):
        free = disk_free_gb(path)
        if free is not None and free < s.alert_disk_free_gb:
            out.append(f"The {label} folder {path} has {free:.1f} GB free (alert below {s.alert_disk_free_gb:g} GB).")
    return out


def _percent(gpu: dict[str, Any]) -> float | None:
    used, total = gpu.get("mem_used_mb"), gpu.get("mem_total_mb")
    return None if used is None or not total else 100.0 * used / total


def _fmt(value: Any, unit: str = "", digits: int = 0) -> str:
    return "—" if value is None else f"{value:.{digits}f}{unit}"


def gpu_rows(sample: ResourceSample | None) -> list[dict[str, str]]:
    """One row per GPU of the latest reading: utilisation, memory, the run's own share,
    temperature, power."""
    out = []
    for g in (sample.gpus or []) if sample is not None else []:
        total = g.get("mem_total_mb")
        out.append({"GPU": f"{g.get('index')}: {g.get('name') or 'GPU'}", "util": _fmt(g.get("util_percent"), " %"),
                    "memory": (f"{g.get('mem_used_mb', 0) / 1024:.1f} / {total / 1024:.1f} GiB" if total else "—"),
                    "this run": _fmt(None if g.get("proc_mem_mb") is None else g["proc_mem_mb"] / 1024, " GiB", 2),
                    "temperature": _fmt(g.get("temp_c"), " °C"), "power": _fmt(g.get("power_w"), " W")})
    return out


def summary_text(run: Run) -> str:
    """``peak RAM 1.2 GiB · peak GPU memory 3.4 GiB · 0.25 GPU-hours`` ("" before a first sample)."""
    r = run.resources or {}
    if not r.get("samples"):
        return ""
    bits = [f"peak RAM {r.get('peak_ram_mb', 0) / 1024:.2f} GiB"]
    if r.get("peak_gpu_mem_mb") is not None:
        bits.append(f"peak GPU memory {r['peak_gpu_mem_mb'] / 1024:.2f} GiB")
    if r.get("gpus"):
        bits.append(f"{r.get('gpu_hours', 0):.3f} GPU-hours on {r['gpus']} GPU(s)")
    return " · ".join(bits)


def resources_panel(run: Run, samples: Sequence[ResourceSample]) -> None:
    """Progress: alerts, the run's own CPU and RAM, free disk, every GPU, and the summary."""
    last = samples[-1] if samples else None
    for warning in alerts(last):
        st.warning(warning, icon=":material/warning:")
    if last is not None:
        cols = st.columns(4)
        cols[0].metric("run CPU", _fmt(last.proc_cpu_percent, " %"), help="the run's processes; 100 % = one core")
        cols[1].metric("run RAM", f"{last.ram_mb / 1024:.2f} GiB", help="resident memory of the run's processes")
        cols[2].metric("machine RAM", f"{last.ram_percent:.0f} %")
        cols[3].metric("disk free (artifacts)", _fmt(last.disk_artifacts_free_gb, " GB", 1),
                       help=f"home folder: {_fmt(last.disk_home_free_gb, ' GB', 1)}")
        rows = gpu_rows(last)
        if rows:
            st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    if text := summary_text(run):
        st.caption(f"This run: {text}")
