"""Comparison keeps curves per (run, metric, level, version): a rerun reads no curve, one more run
in the selection reads only its own, and a run that logged more (or was resumed) is read again."""
from __future__ import annotations

from db import queries
from db.migrate import upgrade
from db.session import session_scope
from ui import comparison as cmp


def test_curves_are_read_once_per_series_and_again_when_it_changes(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    upgrade(url)
    with session_scope(url) as s:
        ids = [queries.create_run(session=s, family="toy", config={}).id for _ in range(3)]
        for run in ids:
            queries.add_metrics(session=s, rows=[{"run_id": run, "step": i, "name": n, "value": float(i % 7)}
                                                 for i in range(3_000) for n in ("a", "b")])
    asked: list[list] = []
    real = queries.curve_points
    monkeypatch.setattr(queries, "curve_points", lambda **kw: asked.append(sorted(kw["series"])) or real(**kw))
    cmp._SERIES.clear()

    def draw(run_ids):
        with session_scope(url) as s:
            wanted = queries.metric_summaries(session=s, run_ids=run_ids)
            return cmp.cached_curves(s, wanted, max_points=1000)

    first = draw(ids[:2])
    assert [len(a) for a in asked] == [4] and {p["run_id"] for p in first} == set(ids[:2])
    assert draw(ids[:2]) == first and len(asked) == 1  # a rerun reads nothing
    draw(ids)
    assert asked[-1] == [(ids[2], "a", 3), (ids[2], "b", 3)]  # only the run added to the selection
    with session_scope(url) as s:
        queries.add_metrics(session=s, rows=[{"run_id": ids[0], "step": 3_000, "name": "a", "value": 99.0}])
    again = draw(ids)
    assert asked[-1] == [(ids[0], "a", 3)]  # only the series that changed (its version moved)
    assert max(p["max"] for p in again if p["run_id"] == ids[0] and p["name"] == "a") == 99.0
    with session_scope(url) as s:
        queries.delete_metrics_after(session=s, run_id=ids[1], step=1_000)  # a resume
    draw(ids)
    assert {(r, n) for r, n, _ in asked[-1]} == {(ids[1], "a"), (ids[1], "b")}
