"""*Clone and edit*: the Launch page opened with ``?clone=RUN_ID`` starts from that run's family,
dataset, config, name and notes, ready to change; the launched run records where it came from
(``Run.cloned_from``).

Another page can fill the Launch form the same way without a run: ``prefill_launch(family=,
dataset_id=, config=, note=)`` keeps the values in the session and opens the Launch page (the Data
Sufficiency page's *Apply* of an age-group merge); ``launch_prefill()`` reads them there."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from db import queries
from db.session import session_scope
from engine.families import FAMILIES
from ui.forms import family_form

__all__ = ["ClonePrefill", "clone_source", "prefill_launch", "launch_prefill", "clear_prefill", "PREFILL_KEY"]

PREFILL_KEY = "launch-prefill"
LAUNCH_PAGE = "pages/2_Launch_Training.py"


@dataclass(frozen=True)
class ClonePrefill:
    run_id: int | None  # None: a prefill from another page, not a clone
    family: str
    dataset_id: int | None
    config: dict[str, Any]
    name: str
    description: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)
    note: str = ""

    def defaults(self, base: dict[str, Any]) -> dict[str, Any]:
        """The form's starting values: the family's defaults overlaid with the run's config (a
        form module may translate it with ``clone_defaults(config)``, e.g. anomaly's age group)."""
        merged = {**base, **self.config}
        custom = family_form(self.family)
        return custom.clone_defaults(merged) if custom is not None and hasattr(custom, "clone_defaults") else merged


def clone_source() -> ClonePrefill | None:
    """The run named by ``?clone=`` when it exists and its family is installed; else None (with a
    warning for a run that is gone)."""
    raw = st.query_params.get("clone")
    if not raw or not raw.isdigit():
        return None
    with session_scope() as s:
        run = queries.get_run(session=s, run_id=int(raw))
    if run is None or run.family not in FAMILIES:
        st.warning(f"Run #{raw} cannot be cloned: it does not exist (any more) or its family is not installed.")
        return None
    return ClonePrefill(run_id=run.id, family=run.family, dataset_id=run.dataset_id, config=dict(run.config or {}),
                        name=f"{run.name} (clone)", description=run.description or "", tags=tuple(run.tags or ()))


def prefill_launch(*, family: str, dataset_id: int | None, config: dict[str, Any], note: str = "",
                   name: str = "") -> None:
    """Open the Launch page with ``family``, ``dataset_id`` and ``config`` filled in (the rest at
    the family's defaults); ``note`` says there where the values came from."""
    st.session_state[PREFILL_KEY] = {"family": family, "dataset_id": dataset_id, "config": dict(config),
                                     "note": note, "name": name}
    st.switch_page(LAUNCH_PAGE)


def launch_prefill() -> ClonePrefill | None:
    """What ``prefill_launch`` left for the Launch page (kept until a launch succeeds, so every
    rerun of the page shows the same form), or None."""
    data = st.session_state.get(PREFILL_KEY)
    if not isinstance(data, dict) or data.get("family") not in FAMILIES:
        return None
    return ClonePrefill(run_id=None, family=data["family"], dataset_id=data.get("dataset_id"),
                        config=dict(data.get("config") or {}), name=data.get("name") or "", note=data.get("note") or "")


def clear_prefill() -> None:
    st.session_state.pop(PREFILL_KEY, None)
