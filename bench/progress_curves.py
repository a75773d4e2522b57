"""Progress curves of a run with 1,000,000 points (10 metrics × 100k steps; 100k quick by default).

Baseline: the bare bucket query (``step // width`` groups with min/max, nothing else), in the same
run. Trainyard: the whole path the Progress page takes (``ui.curves.RunCurves.refresh`` →
``series`` → ``ui.charts.curve_figures`` → the figures' JSON), then a live refresh after 1,000
new points. Bars: first draw ≤ 1.5× the bare query; a live refresh < 300 ms and flat in the run's
length; ≤ 1 MB of figure JSON per refresh; ≤ 2,000 points per curve.
"""
from __future__ import annotations

import time
from pathlib import Path

from bench.harness import installation, interleaved, line, postgres, size

ROOT = Path(__file__).resolve().parents[1]
NAMES = tuple(f"{split}/m{i}" for split in ("train", "val") for i in range(5))
STEPS = size(10_000, 100_000)


def _fill(run_id: int, steps: int, start: int = 0) -> None:
    import math

    from sqlalchemy import text

    from db import queries
    from db.session import session_scope

    rows = [{"run_id": run_id, "step": st, "name": n, "value": math.sin(st / 500) + (st % 7) / 10}
            for st in range(start, start + steps) for n in NAMES]
    for i in range(0, len(rows), 200_000):
        with session_scope() as s:
            queries.add_metrics(session=s, rows=rows[i:i + 200_000])
    with session_scope() as s:
        if s.get_bind().dialect.name == "postgresql":
            # what autovacuum does after a table grows by a tenth: without statistics the planner
            # takes "id > recent" for a third of the table and scans it all
            s.exec(text("ANALYZE metric"))


def _bare(run_id: int, width: int) -> None:
    from sqlalchemy import func, select, text

    from db.models import Metric
    from db.session import session_scope

    m = Metric.__table__.c
    bucket = (m.step // width).label("b")
    with session_scope() as s:
        if s.get_bind().dialect.name == "postgresql":  # the same server settings Trainyard's query uses
            s.exec(text("SET LOCAL work_mem = '64MB'"))
            s.exec(text("SET LOCAL jit = off"))
        list(s.exec(select(m.name, bucket, func.min(m.value), func.max(m.value))
                    .where(m.run_id == run_id).group_by(m.name, bucket)))


def _page(run_id: int, curves=None):
    from db.session import session_scope
    from ui.charts import curve_figures
    from ui.curves import RunCurves

    curves = curves or RunCurves(run_id)
    with session_scope() as s:
        curves.refresh(s)
    figures = curve_figures({run_id: curves.series()})
    sent = sum(len(f.to_json()) for f in figures.values())
    most = max(len(t.x) for f in figures.values() for t in f.data)
    return curves, sent, most


def _length(array) -> int:
    """Points in a plotly JSON array: a list, or a typed array ``{"dtype", "bdata"}`` (base64)."""
    if isinstance(array, dict):
        import base64

        import numpy as np

        return len(np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"]))
    return len(array)


def _render(run_id: int) -> tuple[float, int, int]:
    """The Progress page of ``run_id`` in Streamlit's AppTest: seconds, most points in one trace,
    bytes of figure JSON sent."""
    import json

    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "pages" / "3_Progress.py"), default_timeout=120)
    at.query_params["run"] = str(run_id)
    t0 = time.perf_counter()
    at.run()
    took = time.perf_counter() - t0
    assert not at.exception, at.exception
    specs = [c.proto.spec for c in at.get("plotly_chart")]
    most = max(_length(t.get("x", [])) for spec in specs for t in json.loads(spec)["data"])
    return took, most, sum(len(spec) for spec in specs)


def measure(database_url: str | None = None) -> dict[str, float]:
    from db import queries
    from db.session import session_scope

    with installation(database_url):
        with session_scope() as s:
            run_id = queries.create_run(session=s, family="bench", config={}).id
        _fill(run_id, STEPS)
        with session_scope() as s:
            width, _ = queries.metric_buckets(session=s, run_id=run_id)
        out: dict = {}
        t = interleaved({"bare": lambda: _bare(run_id, width),
                         "ours": lambda: out.update(zip(("curves", "sent", "most"), _page(run_id)))})
        curves = out["curves"]
        refresh = float("inf")
        for k in range(3):  # a live run: 1,000 new points (100 steps × 10 metrics) between refreshes
            _fill(run_id, 100, start=STEPS + 100 * k)
            t0 = time.perf_counter()
            _, sent_live, _ = _page(run_id, curves)
            refresh = min(refresh, time.perf_counter() - t0)
        first, _, _ = _render(run_id)  # imports, and the whole run's buckets into the process's keep
        page = min((_render(run_id) for _ in range(3)), key=lambda r: r[0])  # a new viewer each time
    return {"bare": t["bare"], "ours": t["ours"], "refresh": refresh, "sent": out["sent"],
            "sent_live": sent_live, "most": out["most"], "points": STEPS * len(NAMES),
            "page_first": first, "page": page[0], "page_most": page[1], "page_bytes": page[2]}


def report() -> list[bool]:
    oks = []
    with postgres() as pg:
        for label, url in (("SQLite", None), ("PostgreSQL", pg)):
            if label == "PostgreSQL" and pg is None:
                print("progress curves, PostgreSQL: no local server answers; skipped")
                continue
            r = measure(url)
            ok = r["ours"] <= 1.5 * r["bare"]
            oks.append(ok)
            print(line(f"progress curves, {r['points']:,} points, first draw, {label}", "bare bucket query",
                       r["bare"], r["ours"], "≤ 1.5×", ok))
            ok2 = r["refresh"] < 0.3 and r["sent"] <= 1_000_000 and r["most"] <= 2000
            oks.append(ok2)
            print(f"  live refresh after 1,000 new points: {r['refresh'] * 1000:.0f} ms (bar < 300 ms); "
                  f"figure JSON {r['sent'] / 1e6:.2f} MB first draw, {r['sent_live'] / 1e6:.2f} MB per refresh "
                  f"(bar ≤ 1 MB); at most {r['most']} points per curve (bar ≤ 2,000): {'met' if ok2 else 'NOT met'}")
            ok3 = r["page"] < 1.0 and r["page_most"] <= 2000
            oks.append(ok3)
            print(f"  Progress page (AppTest): first render {r['page_first'] * 1000:.0f} ms, then a new viewer "
                  f"{r['page'] * 1000:.0f} ms (bar < 1 s), {r['page_most']} points in its longest trace, "
                  f"{r['page_bytes'] / 1e6:.2f} MB of figures: {'met' if ok3 else 'NOT met'}")
    return oks


if __name__ == "__main__":
    report()
