"""The *Reproduce* tab: what produced a run (its manifest: commit, packages, data, config, seed,
machine, start weights), and what differs from another run's."""
from __future__ import annotations

import json
from typing import Any

import pandas as pd
import streamlit as st

from db import queries
from db.session import session_scope
from jobs.manifest import SUMMARY_KEYS, manifest_diff, manifest_of
from ui.widgets import run_label

__all__ = ["reproduce_panel", "summary_rows", "diff_frame"]

MISSING = "—"


def _value(manifest: dict[str, Any], dotted: str) -> Any:
    value: Any = manifest
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _shown(value: Any) -> str:
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def summary_rows(manifest: dict[str, Any]) -> pd.DataFrame:
    """The facts that decide a reproduction, one row each."""
    rows = [{"what": key, "value": _shown(_value(manifest, key))} for key in SUMMARY_KEYS]
    ds = manifest.get("dataset") or {}
    if ds.get("splits"):
        rows.insert(6, {"what": "dataset.splits", "value": ", ".join(f"{k} {v}" for k, v in ds["splits"].items())})
    gpus = (manifest.get("machine") or {}).get("gpus") or []
    rows.append({"what": "machine.gpus", "value": ", ".join(g.get("name", "?") for g in gpus) or "none"})
    return pd.DataFrame(rows)


def diff_frame(a: dict[str, Any], b: dict[str, Any], *, names: tuple[str, str]) -> pd.DataFrame:
    rows = [{"key": key, names[0]: _shown(x), names[1]: _shown(y)} for key, x, y in manifest_diff(a, b)]
    return pd.DataFrame(rows, columns=["key", *names])


def reproduce_panel(run, *, key: str) -> None:
    manifest = manifest_of(run.id)
    if manifest is None:
        st.info("No manifest for this run: it is recorded when a worker starts the run (runs from before "
                "Trainyard recorded manifests have none).")
        return
    code = manifest.get("code") or {}
    env = manifest.get("environment") or {}
    st.caption(f"Recorded {manifest.get('created_at', '?')[:19].replace('T', ' ')} UTC, attempt "
               f"{(manifest.get('run') or {}).get('attempt', '?')} · commit {(code.get('commit') or '?')[:12]}"
               f"{' (dirty tree)' if code.get('dirty') else ''} · {env.get('packages_count', '?')} packages")
    if code.get("dirty"):
        st.warning(f"The project tree had {code.get('changed_files', 'some')} uncommitted change(s) when this run "
                   "started: the commit alone does not reproduce it.")
    st.dataframe(summary_rows(manifest), hide_index=True, width="stretch", key=f"{key}-summary")
    with st.expander("Config, packages and the whole manifest"):
        st.json(manifest, expanded=1)
    st.download_button("Manifest as JSON", json.dumps(manifest, indent=2), file_name=f"run-{run.id}-manifest.json",
                       mime="application/json", key=f"{key}-download", icon=":material/download:")

    st.markdown("**Compare with another run**")
    search = st.text_input("Find the other run", key=f"{key}-other-search",
                           placeholder="id, name, tag, family, status, dataset or date")
    with session_scope() as s:  # one page of matches, however many runs there are
        found, total = queries.search_runs(session=s, query=search, limit=21)
    others = [r for r in found if r.id != run.id][:20]
    other = st.selectbox("Other run", [None, *others], key=f"{key}-other", placeholder="pick a run",
                         format_func=lambda r: "(none)" if r is None else run_label(r),
                         help=f"{total} runs match; the newest 20 are offered" if total > 21 else None)
    if other is None:
        return
    theirs = manifest_of(other.id)
    if theirs is None:
        st.info(f"Run #{other.id} has no manifest.")
        return
    frame = diff_frame(manifest, theirs, names=(f"#{run.id}", f"#{other.id}"))
    if frame.empty:
        st.success(f"Same code, packages, data, config, seed and machine as run #{other.id}.")
        return
    packages = frame[frame["key"].str.startswith("environment.packages.")]
    st.caption(f"{len(frame)} difference(s)" + (f", {len(packages)} of them in installed packages" if len(packages) else ""))
    st.dataframe(frame, hide_index=True, width="stretch", key=f"{key}-diff")
