"""A self-contained HTML report: Plotly inlined once, tables and config as plain HTML, so the
file opens from disk with no server and no network."""
from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import pandas as pd
import plotly.graph_objects as go

STYLE = ("body{font-family:system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse;"
         "font-size:.85rem}td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:right}"
         "th{background:#f4f4f4}pre{background:#f7f7f7;padding:.75rem;overflow:auto}.tiles{display:flex;"
         "gap:1rem;flex-wrap:wrap}.tile{border:1px solid #ddd;border-radius:.5rem;padding:.5rem 1rem}"
         ".tile b{display:block;font-size:1.4rem}")


def html_report(*, title: str, tiles: Mapping[str, Mapping[str, str]], tables: Mapping[str, pd.DataFrame],
                figures: Sequence[go.Figure], configs: Mapping[str, Mapping[str, Any]]) -> str:
    """``tiles``: run label → {metric label: formatted value}; ``configs``: run label → config."""
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
             f"<p>Trainyard report, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC</p>"]
    for label, values in tiles.items():
        cells = "".join(f"<div class='tile'>{html.escape(k)}<b>{html.escape(v)}</b></div>" for k, v in values.items())
        parts.append(f"<h2>{html.escape(label)}</h2><div class='tiles'>{cells}</div>")
    for label, frame in tables.items():
        parts.append(f"<h2>{html.escape(label)}</h2>{frame.to_html(index=False, na_rep='—', float_format=lambda v: f'{v:.4g}')}")
    if figures:
        parts.append("<h2>Curves</h2>")
    for i, fig in enumerate(figures):
        # the first figure carries plotly.js inline (offline); the rest reuse it
        parts.append(fig.to_html(full_html=False, include_plotlyjs=(i == 0), config={"displaylogo": False}))
    for label, config in configs.items():
        parts.append(f"<h2>Config · {html.escape(label)}</h2>"
                     f"<pre>{html.escape(json.dumps(config, indent=2, sort_keys=True, default=str))}</pre>")
    parts.append("</body></html>")
    return "".join(parts)
