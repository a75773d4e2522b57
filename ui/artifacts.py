"""A run's files on a page: every file with its size and sha256, its images as a gallery, one
CSV, JSON or text file previewed, and downloads (one file, or all as a zip). Every byte shown or
handed out comes through ``jobs.artifacts``: from inside the run folder only (no ``..``, no
links) and, once the run recorded its files, only while a file still has its recorded sha256."""
from __future__ import annotations

import io
import json
from functools import partial

import pandas as pd
import streamlit as st

from jobs.artifacts import ArtifactRefused, OutsideRunFolder, RunFiles, read, run_files, verified_bytes, zip_bytes
from ui.widgets import human_size

__all__ = ["files_panel", "gallery_paths", "GALLERY_MAX"]

GALLERY_MAX = 24
PREVIEW_MAX_BYTES = 2 << 20
PREVIEW_ROWS = 50
PREVIEWABLE = ("table", "json", "text")


def gallery_paths(paths: list[str]) -> list[str]:
    """Images in the order a person looks for them: plots first, then by depth and name; never
    the images of a training view (``data/``), which are the dataset's, not the run's."""
    shown = [p for p in paths if not p.startswith("data/")]
    return sorted(shown, key=lambda p: (not p.startswith("plots/"), p.count("/"), p))


def _table(files: RunFiles) -> pd.DataFrame:
    return pd.DataFrame([{"file": e.path, "kind": e.kind, "size": human_size(e.size),
                          "sha256": e.sha256[:16] if e.sha256 else "not recorded yet"} for e in files.entries])


def _gallery(files: RunFiles, images: list[str], *, key: str) -> None:
    order = gallery_paths(images)
    if not order:
        return
    st.markdown(f"**Gallery** · {len(order)} image(s)")
    show_all = len(order) > GALLERY_MAX and st.toggle(f"Show all {len(order)}", key=f"{key}-all-images")
    cols = st.columns(3)
    for i, path in enumerate(order if show_all else order[:GALLERY_MAX]):
        with cols[i % 3]:
            try:
                st.image(read(files, path), caption=path, width="stretch")
            except (ArtifactRefused, OutsideRunFolder, OSError) as exc:
                st.warning(f"{path}: {exc}")


def _preview(files: RunFiles, *, key: str) -> None:
    choices = [e.path for e in files.entries if e.kind in PREVIEWABLE]
    if not choices:
        return
    path = st.selectbox("Preview", choices, key=f"{key}-preview", help="CSV as a table, JSON as a tree, text as is")
    entry = next(e for e in files.entries if e.path == path)
    if entry.size > PREVIEW_MAX_BYTES:
        st.caption(f"{path} is {human_size(entry.size)}; download it to read it all.")
        return
    try:
        data = read(files, path)
    except (ArtifactRefused, OutsideRunFolder, OSError) as exc:
        st.warning(str(exc))
        return
    if entry.kind == "table":
        try:
            frame = pd.read_csv(io.BytesIO(data), sep="\t" if path.endswith(".tsv") else ",", nrows=PREVIEW_ROWS)
            st.dataframe(frame, hide_index=True, width="stretch")
            st.caption(f"first {min(len(frame), PREVIEW_ROWS)} rows")
            return
        except (ValueError, pd.errors.ParserError) as exc:
            st.caption(f"not readable as a table ({exc}); shown as text")
    if entry.kind == "json":
        try:
            st.json(json.loads(data), expanded=1)
            return
        except ValueError as exc:
            st.caption(f"not valid JSON ({exc}); shown as text")
    text = data.decode("utf-8", errors="replace").splitlines()
    st.code("\n".join(text[:400]) + ("\n…" if len(text) > 400 else ""), language=None, wrap_lines=True)


def _downloads(files: RunFiles, *, key: str) -> None:
    run_id = files.run.id
    cols = st.columns([3, 1, 1], vertical_alignment="bottom")
    path = cols[0].selectbox("File", [e.path for e in files.recorded], key=f"{key}-file")
    cols[1].download_button("Download", data=partial(verified_bytes, run_id, path), file_name=path.rsplit("/", 1)[-1],
                            mime="application/octet-stream", key=f"{key}-download", on_click="ignore",
                            icon=":material/download:",
                            help="handed out only while its sha256 matches the one recorded when the run ended")
    cols[2].download_button("All as zip", data=partial(zip_bytes, run_id), file_name=f"run-{run_id}-files.zip",
                            mime="application/zip", key=f"{key}-zip", on_click="ignore", icon=":material/folder_zip:",
                            help="every recorded file that still matches its sha256 (any other is named in "
                                 "NOT-INCLUDED.txt)")


def files_panel(run_id: int, *, key: str) -> None:
    """Everything the run wrote: gallery, table, preview and downloads."""
    files = run_files(run_id)
    if not files.entries:
        st.caption("No files yet." if files.run.status.active else "This run left no files.")
        return
    total = sum(e.size for e in files.entries)
    if files.is_recorded:
        st.caption(f"{len(files.recorded)} file(s), {human_size(total)}, recorded with their sha256 when the run ended")
    else:
        st.caption(f"{len(files.live)} file(s) so far, {human_size(total)}"
                   + (" (the first ones only)" if files.truncated else "")
                   + ". Their sha256 is recorded when the run ends; downloads open then.")
    _gallery(files, [e.path for e in files.entries if e.kind == "image"], key=key)
    st.dataframe(_table(files), hide_index=True, width="stretch", key=f"{key}-table")
    _preview(files, key=key)
    if files.is_recorded:
        _downloads(files, key=key)
