"""Tables and figures for comparing runs: parameters, metrics against a baseline, overlaid curves,
parallel coordinates. Plain functions of data read through ``db.queries`` (no Streamlit here),
so the comparison page, the results page and the HTML report draw the same things."""
from __future__ import annotations

import base64
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from db.models import Run
from ui.charts import PALETTE
from ui.metrics import direction, headlines

ALIGNS = ("step", "epoch", "wall time (s)")
BETTER, WORSE = "background-color: rgba(44, 160, 44, 0.25)", "background-color: rgba(214, 39, 40, 0.25)"


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested config → ``{"optimizer.lr": 0.01}``; lists become their text (a column per item would lie)."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value if isinstance(value, (int, float, str, bool)) or value is None else str(value)
    return out


def final_values(run: Run, summaries: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """The run's closing numbers: its summary, then the last logged value of anything else."""
    out = {s["name"]: s["last"] for s in summaries if s["run_id"] == run.id}
    out.update({k: float(v) for k, v in (run.summary or {}).items()
                if isinstance(v, (int, float)) and not isinstance(v, bool)})
    return out


def headline_names(runs: Sequence[Run]) -> list[tuple[str, str | None]]:
    """(name, direction) of every headline of the runs' families and tasks, ranking ones first."""
    seen: dict[str, str | None] = {}
    for run in runs:
        for h in headlines(run.family, run.task):
            seen.setdefault(h.name, h.direction or None)
    return list(seen.items())


def arrow(d: str | None) -> str:
    return {"max": " ↑", "min": " ↓"}.get(d or "", "")


def runs_frame(runs: Sequence[Run], summaries: Sequence[Mapping[str, Any]], *, dataset_names: Mapping[int, str] | None = None,
               differences_only: bool = False) -> pd.DataFrame:
    """One row per run: identity, parameters (``param.`` columns) and headline metrics."""
    heads = headline_names(runs)
    rows = []
    for run in runs:
        finals = final_values(run, summaries)
        row = {"run": run.id, "name": run.name, "family": run.family, "task": run.task or "",
               "status": getattr(run.status, "value", run.status),
               "dataset": (dataset_names or {}).get(run.dataset_id, run.dataset_id or ""),
               "tags": ", ".join(getattr(run, "tags", None) or []), "created": run.created_at}
        row.update({f"param.{k}": v for k, v in flatten(run.config or {}).items()})
        row.update({f"{name}{arrow(d)}": finals.get(name) for name, d in heads})
        rows.append(row)
    frame = pd.DataFrame(rows)
    if differences_only and len(frame) > 1:
        keep = [c for c in frame.columns
                if c in ("run", "name") or frame[c].astype(str).nunique(dropna=False) > 1]
        frame = frame[keep]
    return frame


def metrics_frame(runs: Sequence[Run], summaries: Sequence[Mapping[str, Any]], *, names: Sequence[str],
                  baselines: Mapping[int, int | None]) -> pd.DataFrame:
    """One row per (run, metric): best, last, min, max, final, and the delta of final-or-last
    against the run's baseline run (``baselines[run_id]``), with the direction used to judge it."""
    by_run = {r.id: r for r in runs}
    stats = {(s["run_id"], s["name"]): s for s in summaries}
    rows = []
    for run in runs:
        finals = final_values(run, summaries)
        base_id = baselines.get(run.id)
        base = final_values(by_run[base_id], summaries) if base_id in by_run else {}
        for name in names:
            s = stats.get((run.id, name))
            final = finals.get(name)
            if s is None and final is None:
                continue
            d = direction(name, run.family, run.task)
            lo, hi = (s["min"], s["max"]) if s else (final, final)
            value = final if final is not None else s["last"]
            ref = base.get(name)
            rows.append({"run": run.id, "metric": name, "better": {"max": "higher", "min": "lower"}.get(d, ""),
                         "best": (hi if d == "max" else lo if d == "min" else None),
                         "last": s["last"] if s else None, "min": lo, "max": hi, "final": final,
                         "points": s["count"] if s else 0, "baseline": f"#{base_id}" if base_id else "",
                         "delta": (value - ref) if ref is not None and base_id != run.id else None})
    return pd.DataFrame(rows)


def style_deltas(frame: pd.DataFrame):
    """Colour each delta green when it moves the declared way, red when it moves the other way."""
    def colour(row: pd.Series) -> list[str]:
        out = [""] * len(row)
        delta = row.get("delta")
        if delta is None or pd.isna(delta) or delta == 0 or not row.get("better"):
            return out
        good = (delta > 0) == (row["better"] == "higher")
        out[list(row.index).index("delta")] = BETTER if good else WORSE
        return out

    return frame.style.apply(colour, axis=1).format(precision=4, na_rep="—")


def smooth(values: Sequence[float], weight: float) -> list[float]:
    """TensorBoard's debiased exponential moving average (``weight`` 0 = raw)."""
    if weight <= 0:
        return list(values)
    out, last, n = [], 0.0, 0
    for v in values:
        if v is None or v != v:  # a non-finite point: a gap, and the average carries on past it
            out.append(None)
            continue
        n += 1
        last = last * weight + (1 - weight) * v
        out.append(last / (1 - weight ** n))
    return out


TYPED_FROM = 20_000  # points in a figure from which its arrays go as float32 typed arrays, not JSON numbers


def _array(values: np.ndarray, typed: bool) -> Any:
    """A plain list (NaN as None: a gap), or plotly's typed-array form ``{"dtype", "bdata"}``,
    encoded here once: plotly would otherwise inspect and copy every array on every draw."""
    if typed:
        return {"dtype": "f4", "bdata": base64.b64encode(values.astype("<f4").tobytes()).decode()}
    return [None if v != v else v for v in values.tolist()]


def curve_figures(points: Sequence[Mapping[str, Any]], *, align: str = "step", smoothing: float = 0.0,
                  labels: Mapping[int, str] | None = None, height: int = 340) -> dict[str, go.Figure]:
    """One figure per metric name with one line per run, from ``downsampled_metrics`` rows. Where a
    bucket held several points its min–max range is drawn as a band behind the line."""
    start: dict[int, Any] = {}
    for p in points:
        if p["time"] is not None and (p["run_id"] not in start or p["time"] < start[p["run_id"]]):
            start[p["run_id"]] = p["time"]
    series: dict[str, dict[int, list[Mapping[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for p in points:
        series[p["name"]][p["run_id"]].append(p)
    run_ids = sorted({p["run_id"] for p in points})
    colour = {run: PALETTE[i % len(PALETTE)] for i, run in enumerate(run_ids)}
    figures = {}
    for name, runs in sorted(series.items()):
        traces: list[dict[str, Any]] = []
        for run_id, rows in sorted(runs.items()):
            if align == "epoch":
                xs = [r["epoch"] if r["epoch"] is not None else r["step"] for r in rows]
            elif align.startswith("wall"):
                xs = [(r["time"] - start[run_id]).total_seconds() if r["time"] is not None else None for r in rows]
            else:
                xs = [r["step"] for r in rows]
            x = np.array(xs, dtype=float)
            ys = [r["value"] for r in rows]
            label = (labels or {}).get(run_id, f"run {run_id}")
            if any(r["min"] != r["max"] for r in rows):
                band = [r["max"] for r in rows] + [r["min"] for r in rows][::-1]
                traces.append({"type": "scatter", "x": np.concatenate([x, x[::-1]]), "y": np.array(band, dtype=float),
                               "fill": "toself", "line": {"width": 0}, "fillcolor": colour[run_id], "opacity": 0.15,
                               "hoverinfo": "skip", "showlegend": False, "name": f"{label} range"})
            if smoothing > 0:
                traces.append({"type": "scatter", "x": x, "y": np.array(ys, dtype=float), "mode": "lines",
                               "line": {"color": colour[run_id], "width": 1}, "opacity": 0.3, "showlegend": False,
                               "name": f"{label} raw"})
            traces.append({"type": "scatter", "x": x, "y": np.array(smooth(ys, smoothing), dtype=float), "name": label,
                           "line": {"color": colour[run_id]}, "mode": "lines+markers" if len(xs) < 30 else "lines"})
        big = sum(len(t["x"]) for t in traces) > TYPED_FROM
        for t in traces:
            t["x"], t["y"] = _array(t["x"], big), _array(t["y"], big)
        # plain trace dicts, not validated one property at a time: a hundred runs draw in milliseconds
        figures[name] = go.Figure(data=traces, layout={
            "title": {"text": name}, "height": height, "xaxis": {"title": {"text": align}},
            "margin": {"l": 10, "r": 10, "t": 40, "b": 10}, "legend": {"orientation": "h", "y": -0.25},
            "template": pio.templates[pio.templates.default] if pio.templates.default else None}, _validate=False)
    return figures


def parallel_figure(frame: pd.DataFrame, metric: str, *, height: int = 420) -> go.Figure | None:
    """Parameters → ``metric`` as parallel coordinates, coloured by the metric; text parameters
    become categorical axes. None when fewer than two runs have the metric."""
    data = frame[frame[metric].notna()] if metric in frame else frame.iloc[0:0]
    if len(data) < 2:
        return None
    dims = []
    for col in [c for c in data.columns if c.startswith("param.")] + [metric]:
        values = data[col]
        if values.astype(str).nunique() < 2 and col != metric:
            continue
        numeric = pd.to_numeric(values, errors="coerce")
        if numeric.notna().all() and not values.map(lambda v: isinstance(v, bool)).any():
            dims.append({"label": col.removeprefix("param."), "values": numeric.tolist()})
        else:
            cats = sorted(values.astype(str).unique())
            dims.append({"label": col.removeprefix("param."), "values": [cats.index(v) for v in values.astype(str)],
                         "tickvals": list(range(len(cats))), "ticktext": cats})
    colour = pd.to_numeric(data[metric], errors="coerce").tolist()
    fig = go.Figure(go.Parcoords(line={"color": colour, "colorscale": "Viridis", "showscale": True}, dimensions=dims))
    fig.update_layout(height=height, margin={"l": 40, "r": 40, "t": 40, "b": 20})
    return fig


CACHED_POINTS = 600_000  # bucket points of the curves the dashboard process keeps (a few hundred MB at most)
_SERIES: OrderedDict[tuple[int, str, int | None, int], list[dict[str, Any]]] = OrderedDict()
_SERIES_LOCK = threading.Lock()
_KEPT_POINTS = [0]


def cached_curves(session, summaries: Iterable[Mapping[str, Any]], *, max_points: int = 1000,
                  keys_out: list | None = None) -> list[dict[str, Any]]:
    """The curves of the (run, metric) ``summaries`` (rows of ``queries.metric_summaries``), read
    from the pyramid at the level that gives ≤ ``max_points`` buckets and kept in the process per
    (run, metric, level, version): a rerun, or a run added to the selection, reads only the series
    not kept yet, and a series that changed (new rows, a resume) has a new version, so a new key."""
    from db import queries

    keys = [(x["run_id"], x["name"], queries.curve_level(x["first_step"], x["last_step"], max_points), x["version"])
            for x in summaries]
    with _SERIES_LOCK:
        found = {k: _SERIES[k] for k in keys if k in _SERIES}
        for k in found:
            _SERIES.move_to_end(k)
    missing = [k for k in keys if k not in found]
    if keys_out is not None:
        keys_out += keys
    if missing:
        fresh: dict[tuple[int, str], list[dict[str, Any]]] = defaultdict(list)
        for p in queries.curve_points(session=session, series=[k[:3] for k in missing]):
            fresh[(p["run_id"], p["name"])].append(p)
        with _SERIES_LOCK:
            for k in missing:
                found[k] = fresh.get(k[:2], [])
                if k not in _SERIES:
                    _SERIES[k] = found[k]
                    _KEPT_POINTS[0] += len(found[k])
            while _KEPT_POINTS[0] > CACHED_POINTS and len(_SERIES) > 1:  # oldest first
                _KEPT_POINTS[0] -= len(_SERIES.popitem(last=False)[1])
    return [p for k in keys for p in found[k]]


def load(run_ids: Sequence[int], *, curve_names: Sequence[str] | None = None, max_points: int = 1000,
         with_baselines: bool = True) -> dict[str, Any]:
    """Everything a comparison shows, read in one session: runs (in the order asked), dataset
    names, metric summaries (kept at ingest), each run's registered versions and the run of the
    active version of its scope (default baseline), and the curves (``curve_names``: None =
    every metric) from the pyramid, through the process's cache (``cached_curves``)."""
    from db import queries
    from db.session import session_scope

    with session_scope() as s:
        found = {r.id: r for r in queries.find_runs(session=s, run_ids=run_ids, limit=len(run_ids) or 1)}
        runs = [found[i] for i in run_ids if i in found]
        versions = queries.model_versions_for_runs(session=s, run_ids=[r.id for r in runs])
        active_runs: dict[int, int | None] = {}
        scopes: dict[tuple, Any] = {}  # one lookup per scope, however many runs share it
        for r in runs:
            mine = [v for v in versions if v.run_id == r.id]
            active = None
            if mine and with_baselines:
                scope = (mine[-1].family, mine[-1].scope, mine[-1].task)
                if scope not in scopes:
                    scopes[scope] = queries.active_model(session=s, family=scope[0], scope=scope[1], task=scope[2])
                active = scopes[scope]
            active_runs[r.id] = active.run_id if active else None
        extra = sorted({i for i in active_runs.values() if i and i not in found})
        baseline_runs = queries.find_runs(session=s, run_ids=extra, limit=len(extra) or 1) if extra else []
        all_ids = [r.id for r in runs] + [r.id for r in baseline_runs]
        summaries = queries.metric_summaries(session=s, run_ids=all_ids)
        mine = {r.id for r in runs}
        names = sorted({x["name"] for x in summaries if x["run_id"] in mine})
        wanted = set(names if curve_names is None else curve_names)
        curve_keys: list = []
        points = cached_curves(s, [x for x in summaries if x["run_id"] in mine and x["name"] in wanted],
                               max_points=max_points, keys_out=curve_keys)
        datasets = {d.id: d.name for d in queries.list_datasets(session=s)}
    return {"runs": runs, "baseline_runs": baseline_runs, "versions": versions, "active_runs": active_runs,
            "names": names, "summaries": summaries, "points": points, "datasets": datasets,
            "curve_keys": tuple(curve_keys)}


def run_labels(runs: Iterable[Run]) -> dict[int, str]:
    return {r.id: f"#{r.id} {r.name}" for r in runs}
