"""Comparison queries on SQLite and PostgreSQL: bucketed downsampling keeps every spike and dip
within at most N points per series; per-run summaries; run filters; share links."""
from __future__ import annotations

from datetime import timedelta

import pytest

from db import queries
from db.migrate import upgrade
from db.models import RunStatus, utcnow
from db.session import session_scope
from tests.conftest import create_postgres_database, postgres_admin_url

ADMIN = postgres_admin_url()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'c.db'}"
        upgrade(url)
        yield url
        return
    if ADMIN is None:
        pytest.skip("no PostgreSQL server answers on 127.0.0.1:5432")
    url, drop = create_postgres_database(ADMIN)
    upgrade(url)
    yield url
    drop()


def seed_series(url: str, values: list[float], name: str = "train/loss", start_step: int = 0) -> int:
    t0 = utcnow()
    with session_scope(url) as s:
        run = queries.create_run(session=s, family="toy", config={})
        queries.add_metrics(session=s, rows=[{"run_id": run.id, "step": start_step + i, "epoch": i // 100, "name": name,
                                              "value": v, "time": t0 + timedelta(seconds=i)}
                                             for i, v in enumerate(values)])
    return run.id


def test_long_series_are_bucketed_keeping_min_max_and_last(db_url):
    values = [float(i % 10) for i in range(25_001)]
    values[1_234], values[20_001] = -100.0, 1e6
    run = seed_series(db_url, values, start_step=7)
    short = seed_series(db_url, [3.0, 2.0, 1.0])
    with session_scope(db_url) as s:
        rows = queries.downsampled_metrics(session=s, run_ids=[run, short], names=["train/loss"], max_points=500)
    long_rows = [r for r in rows if r["run_id"] == run]
    assert 490 <= len(long_rows) <= 500
    assert min(r["min"] for r in long_rows) == -100.0 and max(r["max"] for r in long_rows) == 1e6
    steps = [r["step"] for r in long_rows]
    assert steps == sorted(steps) and steps[-1] == 7 + 25_000 and long_rows[-1]["value"] == values[-1]
    for r in long_rows:  # each point is the bucket's last real row, inside its own min..max
        assert r["value"] == values[r["step"] - 7] and r["min"] <= r["value"] <= r["max"]
    # a series shorter than the budget comes back point for point
    assert [(r["step"], r["value"], r["min"], r["max"]) for r in rows if r["run_id"] == short] == [
        (0, 3.0, 3.0, 3.0), (1, 2.0, 2.0, 2.0), (2, 1.0, 1.0, 1.0)]


def test_summaries_give_count_min_max_and_the_last_value(db_url):
    run = seed_series(db_url, [5.0, 1.0, 3.0, 2.0])
    with session_scope(db_url) as s:
        queries.add_metrics(session=s, rows=[{"run_id": run, "step": 0, "name": "val/acc", "value": 0.5}])
        (loss, acc) = sorted(queries.metric_summaries(session=s, run_ids=[run]), key=lambda r: r["name"])
        assert queries.metric_names(session=s, run_ids=[run]) == ["train/loss", "val/acc"]
    assert (loss["count"], loss["min"], loss["max"], loss["last"], loss["last_step"]) == (4, 1.0, 5.0, 2.0, 3)
    assert (acc["count"], acc["last"]) == (1, 0.5)


def test_find_runs_filters(db_url):
    with session_scope(db_url) as s:
        ds = queries.create_dataset(session=s, name="d", kind="yolo", root="/x")
        a = queries.create_run(session=s, family="yolo", config={}, dataset_id=ds.id, task="detect")
        b = queries.create_run(session=s, family="anomaly", config={})
        queries.set_run_status(session=s, run_id=a.id, status=RunStatus.completed)
    with session_scope(db_url) as s:
        assert [r.id for r in queries.find_runs(session=s, family="yolo")] == [a.id]
        assert [r.id for r in queries.find_runs(session=s, dataset_id=ds.id)] == [a.id]
        assert [r.id for r in queries.find_runs(session=s, statuses=["pending"])] == [b.id]
        assert [r.id for r in queries.find_runs(session=s, run_ids=[b.id, a.id])] == [b.id, a.id]
        assert queries.find_runs(session=s, since=utcnow() + timedelta(hours=1)) == []
