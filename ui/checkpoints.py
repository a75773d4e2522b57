"""A run's checkpoint table: one row per file on disk, its sha256 checked on demand, downloads
that hand out a file only while it matches its record."""
from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path

import pandas as pd
import streamlit as st

from db.models import Checkpoint
from jobs.checkpoint_files import FileState, file_state, matches_record, verified_bytes
from ui.widgets import human_size

VERIFIED_KEY = "checkpoint-sha256-checked"  # (path, sha256, size, mtime_ns) → matches




def check_state(ckpt: Checkpoint, state: FileState, checked: dict) -> str:
    """One word or two for the table: missing, sha256 ✓/✗ once checked, else what stat suggests."""
    if not state.exists:
        return "missing"
    verdict = checked.get((ckpt.path, ckpt.sha256, state.size, state.mtime_ns))
    if verdict is not None:
        return "sha256 ✓" if verdict else "sha256 ✗ changed"
    return "modified since recorded?" if state.rewritten else "not checked"


def checkpoint_table(ckpts: Sequence[Checkpoint], *, key: str) -> None:
    """The table and one download per file. Hashing a large file on every refresh would stall the
    page, so the sha256 is compared only for the button (results kept per size and mtime)."""
    checked: dict = st.session_state.setdefault(VERIFIED_KEY, {})
    states = [file_state(c.path, c.created_at) for c in ckpts]
    if st.button("Verify sha256 of every file", key=f"{key}-verify", icon=":material/verified:"):
        for c, state in zip(ckpts, states):
            if state.exists:
                checked[(c.path, c.sha256, state.size, state.mtime_ns)] = matches_record(c.path, c.sha256)
    st.dataframe(pd.DataFrame([{"step": c.step, "file": Path(c.path).name, "size": human_size(s.size),
                                "check": check_state(c, s, checked), "monitored": c.monitored, "best": c.best,
                                "sha256": c.sha256[:12]} for c, s in zip(ckpts, states)]),
                 hide_index=True, width="stretch")
    cols = st.columns(min(len(ckpts), 4) or 1)
    for i, (c, state) in enumerate(zip(ckpts, states)):
        known_bad = checked.get((c.path, c.sha256, state.size, state.mtime_ns)) is False
        # the bytes are read and checked against the record only when clicked, on their own thread
        cols[i % len(cols)].download_button(
            Path(c.path).name, data=partial(verified_bytes, c.path, c.sha256), file_name=Path(c.path).name,
            mime="application/octet-stream", key=f"{key}-dl-{c.id}", on_click="ignore",
            icon=":material/download:", disabled=not state.exists or known_bad,
            help="handed out only while its sha256 matches the one recorded when it was written")
