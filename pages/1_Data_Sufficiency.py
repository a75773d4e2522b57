"""Data sufficiency: import or generate a dataset, see what is too small or broken."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from db import queries
from db.session import session_scope
from engine.datasets import DATASET_KINDS
from engine.families import FAMILIES  # also registers the families' dataset kinds
from jobs import api
from settings import get_settings
from ui.kinds import generic_sufficiency, kind_view
from ui.learning_curves import study_launcher, study_note
from ui.page import page

page("Data sufficiency")
st.title("Data sufficiency")

# A dataset just imported or generated: its confirmation survives the rerun that lists it, and
# the Dataset selector below opens on it.
SELECTED, FLASH = "sufficiency-dataset", "sufficiency-flash"
if FLASH in st.session_state:
    st.success(st.session_state.pop(FLASH))

with session_scope() as s:
    datasets = queries.list_datasets(session=s)

with st.expander("Add a dataset", expanded=not datasets):
    if not DATASET_KINDS:
        st.info("No dataset kind is installed.")
    else:
        kind = st.selectbox("Kind", list(DATASET_KINDS), format_func=lambda k: f"{k} — {DATASET_KINDS[k].title}")
        data_root = get_settings().resolved_data_root
        imp, gen = st.columns(2)
        with imp:
            st.markdown("**Import a folder**")
            folder = st.text_input("Folder", placeholder=str(data_root / "my-dataset"),
                                   help=f"Datasets must live under the data root, {data_root}.")
            ds_name = st.text_input("Name", key="import-name")
            replace = st.checkbox("Replace the dataset of that name if it exists", key="import-replace",
                                  help="Rescans it in place; samples whose files did not change keep their embeddings.")
            if st.button("Import", disabled=not (folder and ds_name)):
                from jobs.datasets import DatasetExists, import_dataset

                try:
                    with st.spinner("Scanning and checking every file…"):
                        dataset, report = import_dataset(name=ds_name, kind=kind, root=Path(folder), replace=replace)
                    st.success(f"Imported {len(report.samples)} samples; {len(report.problems)} problem(s).")
                    st.session_state[SELECTED] = dataset.id
                    with session_scope() as s:  # list it below without a rerun (the problems stay shown)
                        datasets = queries.list_datasets(session=s)
                    for p in report.problems[:200]:
                        st.markdown(f"- `{p.path}`{f' line {p.line}' if p.line else ''}: {p.reason}")
                except DatasetExists as exc:
                    st.error(f"Dataset {exc.name!r} exists; choose another name or tick *Replace*.")
                except (ValueError, FileNotFoundError, KeyError) as exc:
                    st.error(str(exc))
        with gen:
            st.markdown("**Generate sample data**")
            st.caption("Synthetic data of this kind, made on a worker, to try the whole flow.")
            options = {name: st.selectbox(name, choices, key=f"sample-{kind}-{name}")
                       for name, choices in DATASET_KINDS[kind].sample_choices}
            if DATASET_KINDS[kind].sample_path and st.button("Generate sample data"):
                try:
                    with st.spinner("Generating on a worker…"):
                        info = api.generate_sample_dataset(kind, **options)
                    st.session_state[FLASH] = (f"Generated dataset {info['name']!r}: {info['samples']} samples; "
                                               "it is selected below.")
                    st.session_state[SELECTED] = info["dataset_id"]
                    st.rerun()
                except (TimeoutError, RuntimeError) as exc:
                    st.error(str(exc))

if not datasets:
    st.info("No dataset yet.")
    st.stop()

by_id = {d.id: d for d in datasets}
if st.session_state.get(SELECTED) not in by_id:
    st.session_state.pop(SELECTED, None)  # deleted meanwhile, or a dataset added after the list was read
dataset = by_id[st.selectbox("Dataset", list(by_id), key=SELECTED,
                             format_func=lambda i: f"{by_id[i].name} · {by_id[i].kind}")]
summary = dataset.summary or {}
cols = st.columns(3)
cols[0].metric("samples", summary.get("samples", 0))
cols[1].metric("problems", len(summary.get("problems", [])))
cols[2].metric("kind", dataset.kind)
st.caption(f"Folder: `{dataset.root}`")

view = kind_view(dataset.kind)
(view.render_sufficiency if view else generic_sufficiency)(dataset)

st.subheader("Would more data help?")
trains = [key for key, fam in FAMILIES.items() if fam.dataset_kind == dataset.kind]
if trains:
    study_note(dataset.id, key="sufficiency-note")
    curve_family = FAMILIES[trains[0]] if len(trains) == 1 else FAMILIES[
        st.selectbox("Family", trains, key="curve-family")]
    study_launcher(curve_family, dataset.id, key="sufficiency-curve")
else:
    st.caption("No installed family trains on this kind of dataset.")

problems = summary.get("problems", [])
if problems:
    with st.expander(f"Problems found at import ({len(problems)})", expanded=len(problems) <= 20):
        st.markdown("\n".join(f"- {p}" for p in problems[:500]))
