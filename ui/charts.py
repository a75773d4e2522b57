"""Plotly figures shared by the pages."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from db.models import Metric, ResourceSample
from ui.curves import Series

SPLIT_DASH = {"train": "solid", "val": "dash", "test": "dot"}
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"]


def categorical(fig: go.Figure, axis: str = "x") -> go.Figure:
    """Draw ``axis`` as categories: group labels such as ``3-4`` or ``11-13`` (age groups,
    classes, identities, patients) are names, never dates or numbers for Plotly to guess at."""
    (fig.update_xaxes if axis == "x" else fig.update_yaxes)(type="category")
    return fig


def split_name(name: str) -> tuple[str, str]:
    """'val/loss' → ('val', 'loss'); names without a split are their own series."""
    split, sep, base = name.partition("/")
    return (split, base) if sep else ("", name)


def metric_figures(rows: Iterable[Metric], *, height: int = 300) -> dict[str, go.Figure]:
    """One figure per base metric; train solid, val dashed, test dotted, one colour per run
    when several runs are overlaid. Keys are the base names ('loss', 'mAP50', ...)."""
    series: dict[str, dict[tuple[int, str], tuple[list[int], list[float]]]] = defaultdict(dict)
    for m in rows:
        split, base = split_name(m.name)
        xs, ys = series[base].setdefault((m.run_id, split), ([], []))
        xs.append(m.step)
        ys.append(m.value)
    run_ids = sorted({run for groups in series.values() for run, _ in groups})
    colour = {run: PALETTE[i % len(PALETTE)] for i, run in enumerate(run_ids)}
    figures = {}
    for base, groups in sorted(series.items()):
        fig = go.Figure()
        for (run, split), (xs, ys) in sorted(groups.items()):
            label = " ".join(filter(None, [f"run {run}" if len(run_ids) > 1 else "", split or base]))
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers" if len(xs) < 30 else "lines", name=label,
                                     line={"dash": SPLIT_DASH.get(split, "solid"), "color": colour[run]}))
        fig.update_layout(title=base, height=height, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                          xaxis_title="step", legend={"orientation": "h", "y": -0.25})
        figures[base] = fig
    return figures


WEBGL_FROM = 1000  # points per trace from which the browser draws with WebGL


def curve_figures(curves: Mapping[int, Mapping[str, Series]], *, height: int = 300) -> dict[str, go.Figure]:
    """Like ``metric_figures`` but from downsampled curves (``ui.curves``), run id → name → series.

    Long series are drawn with WebGL; the x axis says epoch when every series of the figure is
    logged per epoch; a flat curve gets a range around its value instead of a hairline. Figures
    are built in one constructor call (add_trace/update_layout re-validate each time: 4× slower)."""
    grouped: dict[str, dict[tuple[int, str], Series]] = defaultdict(dict)
    for run_id, by_name in curves.items():
        for name, series in by_name.items():
            split, base = split_name(name)
            grouped[base][(run_id, split)] = series
    run_ids = sorted(curves)
    colour = {run: PALETTE[i % len(PALETTE)] for i, run in enumerate(run_ids)}
    figures = {}
    for base, groups in sorted(grouped.items()):
        traces = []
        lo, hi = float("inf"), float("-inf")
        for (run, split), series in sorted(groups.items()):
            label = " ".join(filter(None, [f"run {run}" if len(run_ids) > 1 else "", split or base]))
            # numpy arrays: plotly checks them as a whole and sends them as compact typed arrays
            ys = np.asarray(series.values, dtype=float)
            traces.append({"type": "scattergl" if len(ys) >= WEBGL_FROM else "scatter",
                           "x": np.asarray(series.steps, dtype=float), "y": ys, "name": label,
                           "mode": "lines+markers" if len(ys) < 30 else "lines",
                           "line": {"dash": SPLIT_DASH.get(split, "solid"), "color": colour[run]}})
            if np.isfinite(ys).any():
                lo, hi = min(lo, float(np.nanmin(ys))), max(hi, float(np.nanmax(ys)))
        per_epoch = all(s.per_epoch for s in groups.values())
        layout = {"title": {"text": base}, "height": height, "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
                  "xaxis": {"title": {"text": "epoch" if per_epoch else "step"}},
                  "legend": {"orientation": "h", "y": -0.25}}
        if lo == hi:  # a constant curve: centre it rather than zoom into floating-point noise
            pad = abs(lo) * 0.1 or 1.0
            layout["yaxis"] = {"range": [lo - pad, hi + pad]}
        figures[base] = go.Figure(data=traces, layout=layout)
    return figures


def resource_figure(samples: Sequence[ResourceSample], *, height: int = 260) -> go.Figure:
    times = [s.time for s in samples]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=times, y=[s.cpu_percent for s in samples], name="CPU %"))
    fig.add_trace(go.Scatter(x=times, y=[s.ram_percent for s in samples], name="RAM %"))
    if any(s.gpu_percent is not None for s in samples):
        fig.add_trace(go.Scatter(x=times, y=[s.gpu_percent for s in samples], name="GPU %"))
        fig.add_trace(go.Scatter(x=times, y=[s.gpu_mem_percent for s in samples], name="GPU memory %"))
    fig.add_hline(y=90, line_dash="dot", line_color="#d62728", annotation_text="90%")
    fig.update_layout(height=height, yaxis_range=[0, 105], margin={"l": 10, "r": 10, "t": 20, "b": 10},
                      legend={"orientation": "h", "y": -0.3})
    return fig


def resource_warnings(samples: Sequence[ResourceSample]) -> list[str]:
    """Plain-language alerts about the latest reading, against the thresholds in the settings
    (``ui.resources.alerts``)."""
    from ui.resources import alerts

    return alerts(samples[-1]) if samples else []
