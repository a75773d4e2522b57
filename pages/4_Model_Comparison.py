"""Model comparison: pick runs (filters or ``?runs=1,2,3``), compare parameters, metrics against a
baseline, overlaid curves and parallel coordinates; export CSV or an HTML report; share."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import streamlit as st

from db import queries
from db.models import RunStatus
from db.session import session_scope
from engine.families import FAMILIES
from ui import comparison as cmp
from ui.metrics import fmt, headline_values
from ui.page import page
from ui.paging import page_of
from ui.report import html_report
from ui.sharing import links_manager, share_box

page("Model comparison")
st.title("Model comparison")

MAX_POINTS = 1000  # per series, bucketed in the database: long histories never reach the browser
SERIES_BUDGET = 60_000  # buckets of all the lines of two curves together


def parse_ids(raw: str | None) -> list[int]:
    return [int(x) for x in (raw or "").split(",") if x.strip().isdigit()]


with session_scope() as s:
    datasets = queries.list_datasets(session=s)

with st.expander("Filters", expanded=not st.query_params.get("runs")):
    f = st.columns(5)
    family = f[0].selectbox("Family", ["(all)", *FAMILIES], key="f-family")
    dataset = f[1].selectbox("Dataset", [None, *datasets], format_func=lambda d: "(all)" if d is None else d.name,
                             key="f-dataset")
    statuses = f[2].multiselect("Status", [x.value for x in RunStatus], default=["completed"], key="f-status")
    sweep = f[3].text_input("Sweep", placeholder="id or name", key="f-sweep",
                            help="trials of the sweeps that match (its id, name, family, metric or date)")
    since = f[4].date_input("Created since", value=None, key="f-since")
    g = st.columns([3, 2])
    search = g[0].text_input("Search", placeholder="id, name, tag, family, status, dataset or date (2026-12-03)",
                             key="f-search")
    with session_scope() as s:
        known_tags = queries.run_tags(session=s)
    tags = g[1].multiselect("Tags", known_tags, placeholder="any tags", key="f-tags")

PAGE_SIZE = 50  # candidates per page: the database filters, counts and pages (ten thousand runs cost one page)
with session_scope() as s:
    filters = dict(
        family=None if family == "(all)" else family, dataset_id=dataset.id if dataset else None,
        statuses=statuses or None, sweep_query=sweep or "",
        since=datetime.combine(since, time.min, tzinfo=timezone.utc) if isinstance(since, date) else None,
        query=search or "", tags=tags or None)
    candidates, total = page_of(lambda offset, limit: queries.search_runs(session=s, **filters, offset=offset, limit=limit),
                                key="f-page", size=PAGE_SIZE, where=g[0], noun="runs")
    wanted = parse_ids(st.query_params.get("runs"))
    kept = [i for i in dict.fromkeys([*wanted, *st.session_state.get("runs", [])])
            if i not in {r.id for r in candidates}]
    candidates += queries.find_runs(session=s, run_ids=kept, limit=len(kept) or 1) if kept else []

labels = {r.id: f"#{r.id} {r.name} · {r.family}{' ' + r.task if r.task else ''} · {r.status.value}"
                 + (f" · {', '.join(r.tags)}" if r.tags else "") for r in candidates}
chosen = st.multiselect("Runs", list(labels), default=[i for i in wanted if i in labels], format_func=labels.get,
                        key="runs", placeholder="pick two or more runs")
st.query_params["runs"] = ",".join(map(str, chosen))
if not chosen:
    st.info("Pick runs to compare (the filters narrow the list), or open this page with `?runs=1,2,3`.")
    st.stop()

# a line per run: many runs share the budget (≥ 250, ≤ MAX_POINTS buckets a line), so the page stays light
data = cmp.load(chosen, max_points=max(250, min(MAX_POINTS, SERIES_BUDGET // max(1, 2 * len(chosen)))))
runs, summaries = data["runs"], data["summaries"]
names = {r.id: f"#{r.id} {r.name}" for r in runs + data["baseline_runs"]}

st.subheader("Runs")
diff_only = st.toggle("Differences only", value=len(runs) > 1, key="diff-only")
table = cmp.runs_frame(runs, summaries, dataset_names=data["datasets"], differences_only=diff_only)
st.dataframe(table, hide_index=True, width="stretch")
st.download_button("Runs as CSV", table.to_csv(index=False), file_name="runs.csv", mime="text/csv",
                   icon=":material/download:", key="csv-runs")

st.subheader("Metrics")
base_options = ["active"] + [r.id for r in runs]
base = st.selectbox("Baseline", base_options, key="baseline",
                    format_func=lambda b: "the active model of each run's scope" if b == "active" else f"pinned: {names[b]}")
baselines = data["active_runs"] if base == "active" else {r.id: base for r in runs}
heads = [n for n, _ in cmp.headline_names(runs)]
all_names = sorted(set(data["names"]) | {k for r in runs for k, v in (r.summary or {}).items()
                                            if isinstance(v, (int, float))})
default_names = [n for n in heads if n in all_names] or all_names[:8]
shown = st.multiselect("Metrics", all_names, default=default_names, key="metric-names")
metrics = cmp.metrics_frame(runs + data["baseline_runs"], summaries, names=shown, baselines=baselines)
metrics = metrics[metrics["run"].isin(chosen)] if len(metrics) else metrics
if len(metrics):
    st.dataframe(cmp.style_deltas(metrics), hide_index=True, width="stretch")
    st.caption("best = max or min by the metric's declared direction · delta = final (or last) − baseline's · "
               "green: better, red: worse")
    st.download_button("Metrics as CSV", metrics.to_csv(index=False), file_name="metrics.csv", mime="text/csv",
                       icon=":material/download:", key="csv-metrics")
else:
    st.caption("No metrics recorded for these runs yet.")

st.subheader("Curves")
c = st.columns([2, 1, 1])
curve_names = c[0].multiselect("Curves", data["names"], default=[n for n in data["names"] if n in heads][:4]
                               or data["names"][:4], key="curve-names")
align = c[1].radio("Align by", cmp.ALIGNS, horizontal=True, key="align")
smoothing = c[2].slider("Smoothing", 0.0, 0.99, 0.0, 0.01, key="smoothing")
# figures kept for the session while the curves' (run, metric, level, version) keys and the options stay
fig_key = (data["curve_keys"], tuple(curve_names), align, smoothing, tuple(sorted(names.items())))
kept = st.session_state.get("_curve_figures")
if kept is None or kept[0] != fig_key:
    kept = (fig_key, cmp.curve_figures([p for p in data["points"] if p["name"] in curve_names], align=align,
                                       smoothing=smoothing, labels=names))
    st.session_state["_curve_figures"] = kept
figures = kept[1]
cols = st.columns(2)
for i, (name, fig) in enumerate(figures.items()):
    cols[i % 2].plotly_chart(fig, width="stretch", key=f"curve-{name}")

numeric = [col for col in table.columns if col not in ("run", "name", "family", "task", "status", "dataset", "created")
           and not col.startswith("param.")]
if len(runs) > 1 and numeric:
    st.subheader("Parameters → metric")
    target = st.selectbox("Metric", numeric, key="parallel-metric")
    full = cmp.runs_frame(runs, summaries)
    fig = cmp.parallel_figure(full, target)
    if fig is None:
        st.caption(f"Fewer than two runs have {target}.")
    else:
        st.plotly_chart(fig, width="stretch", key="parallel")

st.subheader("Export and share")
tiles = {names[r.id]: {(h.label or h.name): fmt(v) for h, v in headline_values(r.family, r.task, cmp.final_values(r, summaries))}
         for r in runs}


def report() -> str:  # built when the button is pressed, not on every rerun
    return html_report(title=f"Comparison of runs {', '.join(map(str, chosen))}", tiles=tiles,
                       tables={"Runs": table, "Metrics": metrics}, figures=list(figures.values()),
                       configs={names[r.id]: r.config for r in runs})


st.download_button("HTML report (opens offline)", report, file_name="trainyard-comparison.html", mime="text/html",
                   icon=":material/description:", key="html-report", on_click="ignore")
share_box(chosen, default_title=f"Comparison of runs {', '.join(map(str, chosen))}", key="share-comparison",
          expiry_default=date.today() + timedelta(days=30))
with st.expander("Share links"):
    links_manager(key="comparison-links")
