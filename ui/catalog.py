"""The base-model catalog on the pages: a launch form's choice of starting weights (the catalog's
entries for the family, with "from scratch" as one option; the seed's production choice is the
default when the catalog holds it), the plain note when a run trains from scratch or on demo
features, and the catalog table of the Models page."""
from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from jobs.catalog import FROM_SCRATCH, entries_for, folder_report, production_choice, start_note
from ui.widgets import human_size

__all__ = ["base_model_choice", "show_start_note", "catalog_panel"]


def base_model_choice(col: Any, family: str, config: dict[str, Any], current: str | None, *, key: str,
                      label: str = "start from", scratch_label: str = FROM_SCRATCH,
                      scratch_value: str | None = None) -> str | None:
    """A select box over the catalog's entries of ``family`` (yolo: of the config's task) with
    "from scratch" first; returns the loading name (or ``scratch_value`` for from scratch).
    Default: ``current`` when it is set (a clone, an edited YAML); else the production choice
    when the catalog holds it (not for a clone of a run that trained from scratch: ``?clone=``);
    else from scratch. A value the catalog does not hold is kept as
    an option, so the launch's catalog check names it rather than the form dropping it."""
    task = config.get("task") if family == "yolo" else None
    names = [e.name for e in entries_for(family, task)]
    scratch = scratch_value or ""  # options are strings (a None option does not round-trip every client)
    options = [scratch] + [n for n in names if n != scratch]
    if current and current != scratch and current not in options:
        options.append(current)
    production = production_choice(family, config)
    if current and current != scratch:
        default = current
    elif not st.query_params.get("clone") and production in names:
        default = production
    else:
        default = scratch

    def fmt(value: str) -> str:
        if value == scratch:
            return scratch_label
        tail = " (production choice)" if value == production else "" if value in names else " (not catalogued)"
        return f"{value}{tail}"

    got = col.selectbox(label, options, index=options.index(default), format_func=fmt,
                        key=f"{key}-{task or 'all'}",
                        help="Base models of the catalog (Models page; `python -m engine models add/pull`). "
                             "They load only while their sha256 matches the catalog.")
    return scratch_value if got == scratch else got


def show_start_note(family: str, config: Any) -> None:
    """An info line when the run trains from scratch or on demo features (nothing otherwise)."""
    note = start_note(family, config)
    if note:
        st.info(note, icon=":material/info:")


def catalog_panel(*, key: str) -> None:
    """The models folder as a catalog: each entry with family, format, size, sha256, source and
    when; the sha256 of each is compared with its record only on request (large files)."""
    from db import queries
    from db.session import session_scope

    with session_scope() as s:
        entries = queries.list_catalog(session=s)
    st.caption("Base weights in the models folder (TRAINYARD_MODELS_DIR). Add with `python -m engine models add "
               "PATH [--family F]` or `python -m engine models pull NAME` (yolo11n.pt, osnet_x1_0_imagenet.pth, "
               "google/vit-base-patch16-224-in21k); a file loads only while its sha256 matches its record.")
    if st.button("Check every file against its sha256", key=f"{key}-verify", icon=":material/verified:"):
        rows = folder_report()
    else:
        rows = [{"name": e.name, "family": e.family, "task": e.task or "", "format": e.format, "size": e.size,
                 "sha256": e.sha256, "source": e.source, "added": e.added_at, "check": "not checked"}
                for e in entries]
    if not rows:
        st.info("The catalog is empty: runs train from scratch (yolo from its yaml, OSNet without pretrained "
                "weights, anomaly on tiny-vit demo features).")
        return
    st.dataframe(pd.DataFrame([{**r, "size": human_size(r["size"]), "sha256": (r["sha256"] or "")[:12]}
                               for r in rows]), hide_index=True, width="stretch")
