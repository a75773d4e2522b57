"""The Models page's evaluations: each version's evaluations (metrics, breakdowns, the files the
evaluator wrote), an "Evaluate" form (dataset and split), and the leaderboard that evaluates
several versions on one dataset side by side, ranked by the family's headline, with a link into
Comparison. Reads through ``db.queries``, writes through ``jobs.api`` only."""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from db import queries
from db.session import session_scope
from engine.core import DatasetRef, EvaluationRefused, Headline
from engine.families import FAMILIES
from ui.metrics import fmt

__all__ = ["leaderboard_rows", "evaluation_rows", "version_evaluations", "leaderboard", "ACTIVE_STATES"]

ACTIVE_STATES = ("pending", "running")
POLL_S = 2.0


def _ranking(family: str, task: str | None, split: str) -> Headline | None:
    try:
        return FAMILIES[family].ranking(task, split)
    except KeyError:
        return None


def leaderboard_rows(evaluations: Iterable[Any], *, family: str, task: str | None,
                     split: str) -> tuple[list[dict[str, Any]], Headline | None]:
    """One row per evaluation, best first by the family's ranking headline for ``split`` (those
    without the metric last), with its rank; and that headline."""
    ranking = _ranking(family, task, split)
    evals = list(evaluations)

    def key(ev) -> tuple[int, float]:
        value = (ev.metrics or {}).get(ranking.name) if ranking else None
        if not isinstance(value, (int, float)):
            return (1, 0.0)
        return (0, -float(value) if ranking.direction == "max" else float(value))

    rows = []
    for rank, ev in enumerate(sorted(evals, key=key), 1):
        value = (ev.metrics or {}).get(ranking.name) if ranking else None
        rows.append({"rank": rank if isinstance(value, (int, float)) else None, "version": ev.model_version_id,
                     "run": ev.run_id, "evaluation": ev.id,
                     (ranking.label or ranking.name) if ranking else "metric": value,
                     **{k: v for k, v in sorted((ev.metrics or {}).items()) if ranking is None or k != ranking.name},
                     "seconds": ev.duration_s})
    return rows, ranking


def evaluation_rows(evaluations: Iterable[Any], datasets: dict[int, Any]) -> list[dict[str, Any]]:
    """A version's evaluations as table rows, newest first (the ranking headline beside each)."""
    out = []
    for ev in evaluations:
        ranking = _ranking(ev.family, ev.task, ev.split)
        ds = datasets.get(ev.dataset_id)
        out.append({"evaluation": ev.id, "status": ev.status, "dataset": ds.name if ds else ev.dataset_id,
                    "split": ev.split,
                    (ranking.label or ranking.name) if ranking else "headline":
                        fmt((ev.metrics or {}).get(ranking.name)) if ranking else "",
                    "progress": f"{ev.phase or ''} {ev.progress_done}/{ev.progress_total}"
                    if ev.status in ACTIVE_STATES else "",
                    "seconds": fmt(ev.duration_s), "created": ev.created_at, "error": ev.error or ""})
    return out


def _ref(ds) -> DatasetRef:
    return DatasetRef(name=ds.name, kind=ds.kind, root=Path(ds.root), id=ds.id, summary=dict(ds.summary or {}))


def _splits(family: str, task: str | None, ds) -> tuple[str, ...] | str:
    try:
        return FAMILIES[family].evaluation_splits(_ref(ds), task)
    except EvaluationRefused as exc:
        return str(exc)


def _datasets_for(family: str, datasets: dict[int, Any]) -> list[Any]:
    kind = FAMILIES[family].dataset_kind
    return [d for d in datasets.values() if d.kind == kind and d.status == "ready"]


def _verified_bytes(ev, entry: dict[str, Any]) -> bytes | None:
    """An artifact's bytes, only while they still have the sha256 recorded for them."""
    if not ev.out_dir:
        return None
    path = Path(ev.out_dir) / entry["path"]
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return data if hashlib.sha256(data).hexdigest() == entry.get("sha256") else None


def _details(ev) -> None:
    ranking = _ranking(ev.family, ev.task, ev.split)
    metrics = ev.metrics or {}
    if ranking and ranking.name in metrics:
        st.metric(ranking.label or ranking.name, fmt(metrics[ranking.name]))
    st.dataframe(pd.DataFrame([{"metric": k, "value": fmt(v)} for k, v in sorted(metrics.items())]),
                 hide_index=True, width="stretch", key=f"ev-metrics-{ev.id}")
    for name, rows in (ev.tables or {}).items():
        if rows:
            st.markdown(f"**{name.replace('_', ' ')}**")
            st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key=f"ev-table-{ev.id}-{name}")
    for entry in ev.artifacts or []:
        if entry["path"].endswith(".png"):
            data = _verified_bytes(ev, entry)
            if data is None:
                st.warning(f"{entry['path']}: missing or changed since the evaluation wrote it")
            else:
                st.image(data, caption=entry["path"])
    if ev.error:
        st.error(ev.error)


def _evaluate_form(version, datasets: dict[int, Any], key: str) -> None:
    choices = _datasets_for(version.family, datasets)
    if not choices:
        st.caption(f"No ready {FAMILIES[version.family].dataset_kind} dataset to evaluate on.")
        return
    cols = st.columns([2, 1, 1])
    ds = cols[0].selectbox("Dataset", choices, format_func=lambda d: d.name, key=f"{key}-dataset")
    splits = _splits(version.family, version.task, ds)
    if isinstance(splits, str):
        st.warning(splits)
        return
    split = cols[1].selectbox("Split", splits, key=f"{key}-split")
    options = {}
    if version.family == "ppo":
        options["episodes"] = int(cols[2].number_input("Episodes per image", 1, 50, 1, key=f"{key}-episodes"))
    if version.family == "reid":
        options["rerank"] = int(cols[2].checkbox("Re-ranking", key=f"{key}-rerank",
                                                 help="k-reciprocal re-ranking of the gallery (torchreid's rerank)"))
        options["visrank"] = 10 if cols[2].checkbox("Ranked-list images", key=f"{key}-visrank",
                                                    help="the top ranks of the first 10 queries, framed by match") else 0
    if cols[2].button("Evaluate", type="primary", key=f"{key}-go", icon=":material/fact_check:"):
        from jobs import api
        from jobs.connection import QueueUnavailable

        try:
            ev = api.submit_evaluation(model_version_id=version.id, dataset=ds.id, split=split,
                                       family=version.family, options=options)
            st.toast(f"evaluation #{ev.id} queued")
            st.rerun()
        except (LookupError, EvaluationRefused, QueueUnavailable, ValueError) as exc:
            st.error(str(exc))


def version_evaluations(version, datasets: dict[int, Any]) -> None:
    """The version's evaluations (live while one runs), its newest finished one in detail, and
    the Evaluate form."""
    st.markdown("**Evaluations**")
    _evaluate_form(version, datasets, key=f"eval-{version.id}")

    @st.fragment(run_every=POLL_S)
    def live() -> None:
        with session_scope() as s:
            evals = queries.evaluations_for_versions(session=s, model_version_ids=[version.id])[version.id]
        if not evals:
            st.caption("Not evaluated yet: pick a dataset and split and press Evaluate.")
            return
        st.dataframe(pd.DataFrame(evaluation_rows(evals, datasets)), hide_index=True, width="stretch",
                     key=f"ev-list-{version.id}")
        for ev in (e for e in evals if e.status in ACTIVE_STATES):
            if st.button(f"Cancel evaluation #{ev.id}", key=f"ev-cancel-{ev.id}", icon=":material/cancel:"):
                from jobs import api

                api.cancel_evaluation(ev.id)
                st.rerun()
        done = [e for e in evals if e.status not in ACTIVE_STATES]
        if done:
            chosen = st.selectbox("Evaluation", done, key=f"ev-pick-{version.id}",
                                  format_func=lambda e: f"#{e.id} · {e.status} · "
                                  f"{getattr(datasets.get(e.dataset_id), 'name', e.dataset_id)} / {e.split}")
            _details(chosen)

    live()


def leaderboard(family: str, versions: Sequence[Any], datasets: dict[int, Any], *, task: str | None = None) -> None:
    """Evaluate several versions on one dataset and split and rank them side by side."""
    st.subheader("Leaderboard")
    choices = _datasets_for(family, datasets)
    if not choices or not versions:
        st.caption(f"Needs a ready {FAMILIES[family].dataset_kind} dataset and at least one version.")
        return
    cols = st.columns([2, 1, 3])
    ds = cols[0].selectbox("Dataset", choices, format_func=lambda d: d.name, key="lb-dataset")
    splits = _splits(family, task, ds)
    if isinstance(splits, str):
        st.warning(splits)
        return
    split = cols[1].selectbox("Split", splits, key="lb-split")
    picked = cols[2].multiselect("Versions", [v.id for v in versions], default=[v.id for v in versions][:8],
                                 format_func=lambda i: f"#{i}", key="lb-versions")
    with session_scope() as s:
        latest = queries.latest_evaluations_on(session=s, dataset_id=ds.id, split=split, model_version_ids=picked)
    missing = [i for i in picked if i not in latest]
    if st.button(f"Evaluate {len(missing)} version(s) not yet evaluated here", disabled=not missing, key="lb-go"):
        from jobs import api
        from jobs.connection import QueueUnavailable

        try:
            queued = [api.submit_evaluation(model_version_id=i, dataset=ds.id, split=split, family=family).id
                      for i in missing]
            st.toast(f"queued evaluation(s) {', '.join(f'#{i}' for i in queued)}")
        except (LookupError, EvaluationRefused, QueueUnavailable, ValueError) as exc:
            st.error(str(exc))
    if not latest:
        st.caption("No finished evaluation of these versions on this dataset and split yet.")
        return
    rows, ranking = leaderboard_rows(latest.values(), family=family, task=task, split=split)
    if ranking:
        st.caption(f"Ranked by {ranking.label or ranking.name} ({'higher' if ranking.direction == 'max' else 'lower'}"
                   f" is better) on {ds.name} / {split}.")
    shown = [{k: fmt(v) if isinstance(v, float) else v for k, v in r.items()} for r in rows]
    st.dataframe(pd.DataFrame(shown), hide_index=True, width="stretch", key="lb-table")
    run_ids = [r["run"] for r in rows if r["run"] is not None]
    if len(run_ids) >= 2:
        st.page_link("pages/4_Model_Comparison.py", label="Compare these runs", icon=":material/compare:",
                     query_params={"runs": ",".join(str(i) for i in dict.fromkeys(run_ids))})
