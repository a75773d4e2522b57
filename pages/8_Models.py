"""Models: the registry. Versions per family, task and scope with their status and metrics; the
activation policy per family; activate, roll back, archive, delete (with confirmation);
downloads (model file verified by its sha256, run log, config); each version's evaluations and
an Evaluate button; the leaderboard of the scope's versions on one dataset; the audit trail."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import streamlit as st

from db import queries
from db.models import ModelStatus
from db.session import session_scope
from engine.families import FAMILIES
from engine.trust import UntrustedModelError
from jobs import registry
from jobs.catalog import FAMILY_KEYS, start_note
from jobs.logs import LOG_NAME
from ui.catalog import catalog_panel, show_start_note
from ui.evaluations import leaderboard, version_evaluations
from ui.metrics import fmt, headline_values
from ui.page import page
from ui.paging import page_of
from ui.sharing import share_box

page("Models")
st.title("Models")

ACTOR = "dashboard"  # Trainyard has no login; the audit says where a change came from
with session_scope() as s:
    scopes = queries.model_scopes(session=s)
    policies = {f: queries.get_activation_policy(session=s, family=f) for f in FAMILIES}
    datasets = {d.id: d for d in queries.list_datasets(session=s)}

with st.expander("Activation policy", expanded=False):
    st.caption("auto-if-better: a finished run's model becomes active only when its scope has none or it beats the "
               "active one on the family's first headline metric · manual: candidates wait for you · always: the "
               "newest serves.")
    p = st.columns([1, 1, 1])
    fam = p[0].selectbox("Family", list(FAMILIES), key="policy-family")
    choice = p[1].selectbox("Policy", queries.ACTIVATION_POLICIES,
                            index=queries.ACTIVATION_POLICIES.index(policies.get(fam, queries.DEFAULT_ACTIVATION_POLICY)),
                            key="policy-choice")
    if p[2].button("Save policy", key="policy-save", disabled=choice == policies.get(fam)):
        registry.set_policy(fam, choice, actor=ACTOR)
        st.rerun()

with st.expander("Base models (catalog)", expanded=not scopes):
    catalog_panel(key="catalog")

if not scopes:
    st.info("No model yet: a completed run registers its model here as a candidate.")
    st.stop()

family = st.selectbox("Family", sorted({f for f, _, _, _ in scopes}), key="family")
counts = {(t, sc): n for f, t, sc, n in scopes if f == family}
task, scope = st.selectbox("Task and scope", list(counts), key="scope",
                           format_func=lambda ts: f"{ts[0] or '—'} · {ts[1] or '—'} ({counts[ts]} versions)")
PAGE_SIZE = 50  # versions a page: a scope of thousands of versions costs one page's rows
cols = st.columns([3, 1])
search = cols[0].text_input("Search versions", key="version-search",
                            placeholder="version or run id, status, run name or date (2026-12-03)")
with session_scope() as s:
    in_scope, total = page_of(lambda offset, limit: queries.search_model_versions(
        session=s, family=family, task=task, scope=scope, query=search, offset=offset, limit=limit),
        key="version-page", size=PAGE_SIZE, where=cols[1], noun="versions")
    runs = {r.id: r for r in queries.find_runs(session=s, run_ids={v.run_id for v in in_scope},
                                                limit=len(in_scope) or 1)}
    children = queries.runs_started_from(session=s, model_version_ids=[v.id for v in in_scope])
if not in_scope:
    st.info("No version of this scope matches this search.")
    st.stop()

def row(v) -> dict:
    run = runs.get(v.run_id)
    ds = datasets.get(run.dataset_id) if run and run.dataset_id else None
    out = {"version": v.id, "status": v.status, "run": v.run_id, "created": v.created_at,
           **{(h.label or h.name): fmt(x) for h, x in headline_values(v.family, v.task, v.metrics or {})},
           "dataset": ds.name if ds else "", "content hash": (ds.content_hash or "")[:12] if ds else "",
           "sha256": (v.sha256 or "")[:12]}
    return out


st.dataframe(pd.DataFrame([row(v) for v in in_scope]), hide_index=True, width="stretch",
             column_config={"status": st.column_config.TextColumn("status", help="active · candidate · archived · deleted")})

version = st.selectbox("Version", in_scope, key="version",
                       format_func=lambda v: f"#{v.id} · {v.status} · run #{v.run_id}")
run = runs.get(version.run_id)
left, right = st.columns([3, 2])
with left:
    st.markdown(f"**Version #{version.id}** · {version.status} · run #{version.run_id}"
                + (f" ({run.name})" if run else ""))
    st.page_link("pages/4_Model_Comparison.py", label="Compare with the other versions of this scope",
                 icon=":material/compare:", query_params={"runs": ",".join(str(v.run_id) for v in in_scope)})
    with st.expander("Metrics"):
        st.dataframe(pd.DataFrame([{"metric": k, "value": fmt(val)} for k, val in sorted((version.metrics or {}).items())]),
                     hide_index=True)
    parent = run.parent_version_id if run else None
    kids = children.get(version.id, [])
    base = run.config.get(FAMILY_KEYS.get(version.family, ""), None) if run else None
    if run:
        show_start_note(version.family, run.config)
    st.markdown("**Lineage** · " + (f"started from version #{parent}" if parent
                                    else f"started from base model `{base}`" if base and start_note(version.family, run.config) is None
                                    else "trained from scratch")
                + f" · {len(kids)} run(s) started from this version")
    if kids:
        st.dataframe(pd.DataFrame([{"run": r.id, "name": r.name, "status": r.status, "created": r.created_at}
                                   for r in kids]), hide_index=True, width="stretch")
    if run:
        with st.expander("Config"):
            st.json(run.config)

with right:
    st.markdown("**Change**")
    deleted = version.status == ModelStatus.deleted.value
    actions = [a for a, ok in [("activate", not deleted and version.status != "active"),
                               ("roll back this scope", True),
                               ("archive", version.status in ("active", "candidate")),
                               ("delete the file", not deleted)] if ok]
    action = st.selectbox("Action", actions, key="action")
    target = None
    if action == "roll back this scope":
        with session_scope() as s:
            target = queries.rollback_target(session=s, family=family, task=task, scope=scope)
        st.caption(f"Re-activates #{target.id}, which the active version replaced." if target
                   else "Nothing to roll back to: the active version replaced none (or none is active).")
    # The confirmation belongs to one (action, version): when the action list changes under it (after
    # "activate", say) a fresh, unticked box appears instead of carrying the tick to another action.
    confirm = st.checkbox(f"Yes, {action}" + ("" if action == "roll back this scope" else f" #{version.id}"),
                          key=f"confirm-{action}-{version.id}")
    if st.button("Apply", type="primary", disabled=not confirm or (action == "roll back this scope" and target is None),
                 key="apply"):
        try:
            if action == "activate":
                registry.activate(version.id, actor=ACTOR)
            elif action == "archive":
                registry.archive(version.id, actor=ACTOR)
            elif action == "delete the file":
                registry.delete(version.id, actor=ACTOR)
            else:
                registry.rollback(family=family, task=task, scope=scope, actor=ACTOR)
            st.toast(f"{action}: done")
            st.rerun()
        except (LookupError, ValueError) as exc:
            st.error(str(exc))

    st.markdown("**Download**")
    if not deleted and st.checkbox("Prepare the model file (checks its sha256)", key="prepare"):
        try:
            name, blob = registry.verified_artifact(version.id)
            st.download_button(f"Model file {name}", blob, file_name=f"v{version.id}-{name}",
                               icon=":material/download:", key="dl-model")
        except (FileNotFoundError, UntrustedModelError) as exc:
            st.error(str(exc))
    if run and run.out_dir and (Path(run.out_dir) / LOG_NAME).is_file():
        st.download_button("Run log", (Path(run.out_dir) / LOG_NAME).read_bytes(), file_name=f"run-{run.id}.log",
                           icon=":material/download:", key="dl-log")
    if run:
        st.download_button("Config (JSON)", json.dumps(run.config, indent=2), file_name=f"run-{run.id}-config.json",
                           mime="application/json", icon=":material/download:", key="dl-config")

version_evaluations(version, datasets)
leaderboard(family, in_scope, datasets, task=task)

share_box([version.run_id], default_title=f"{family} model #{version.id} ({scope or task or 'all'})",
          key="share-model", model_version_id=version.id)

st.subheader("Audit trail")
with session_scope() as s:
    events = queries.model_events(session=s, family=family, limit=300)
if events:
    st.dataframe(pd.DataFrame([{"when": e.time, "action": e.action, "task": e.task or "", "scope": e.scope,
                                "version": e.model_version_id, "replaced": e.replaced_id, "why": e.reason,
                                "by": e.actor or ""} for e in events]), hide_index=True, width="stretch")
else:
    st.caption("No changes recorded yet.")
