"""Curves from the database: the bucket query, the incremental refresh and bulk metric ingest,
on SQLite and, when the local server answers, PostgreSQL."""
from __future__ import annotations

import math
from datetime import datetime, timezone

import pytest

from db import queries
from db.migrate import upgrade
from db.session import session_scope
from tests.conftest import create_postgres_database, postgres_admin_url
from ui.curves import RunCurves

ADMIN = postgres_admin_url()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'c.db'}"
    elif ADMIN is None:
        pytest.skip("no PostgreSQL server answers on 127.0.0.1:5432")
    else:
        url, drop = create_postgres_database(ADMIN)
        request.addfinalizer(drop)
    upgrade(url)
    return url


def _value(step: int) -> float:
    """A smooth curve with one spike up and one down that downsampling must not lose."""
    return {1234: 50.0, 3777: -40.0}.get(step, math.sin(step / 300))


def _log(url: str, run_id: int, steps: range, names=("train/loss", "val/loss")) -> None:
    with session_scope(url) as s:
        queries.add_metrics(session=s, rows=[{"run_id": run_id, "step": st, "epoch": st // 100, "name": n,
                                              "value": _value(st)} for st in steps for n in names])


def _new_run(url: str) -> int:
    with session_scope(url) as s:
        return queries.create_run(session=s, family="toy", config={}).id


def test_bucket_query_keeps_extremes_and_bounds_the_points(db_url):
    run_id, other = _new_run(db_url), _new_run(db_url)
    _log(db_url, run_id, range(5000))
    _log(db_url, other, range(10), names=("train/loss",))  # another run's rows stay out
    with session_scope(db_url) as s:
        width, rows = queries.metric_buckets(session=s, run_id=run_id, buckets=100)
    assert width == 4999 // 100 + 1
    for name in ("train/loss", "val/loss"):
        mine = [r for r in rows if r[0] == name]
        assert len(mine) <= 100
        assert sum(r[2] for r in mine) == 5000  # every row counted once
        assert min(r[4] for r in mine) == -40.0 and max(r[5] for r in mine) == 50.0
        assert [r[1] for r in mine] == sorted(r[1] for r in mine)
    assert {r[0] for r in rows} == {"train/loss", "val/loss"}


def test_incremental_refresh_fetches_only_new_rows_and_matches_a_fresh_draw(db_url):
    run_id = _new_run(db_url)
    _log(db_url, run_id, range(300))
    live = RunCurves(run_id, max_buckets=50)
    with session_scope(db_url) as s:
        first = live.refresh(s)
        assert live.refresh(s) == 0  # nothing new: nothing fetched
    assert first > 0
    for start in range(300, 6000, 900):  # the run grows 20× while the page is open
        _log(db_url, run_id, range(start, start + 900))
        with session_scope(db_url) as s:
            fetched = live.refresh(s)
        # only the new steps come back: 900 steps per name at the first width (6) or coarser
        assert 0 < fetched <= 2 * (900 // 6 + 1)
    fresh = RunCurves(run_id, max_buckets=50)
    with session_scope(db_url) as s:
        fresh.refresh(s)
    a, b = live.series(), fresh.series()
    assert a.keys() == b.keys() == {"train/loss", "val/loss"}
    for name in a:
        assert a[name].points == b[name].points == 6600
        assert max(a[name].values) == max(b[name].values) == 50.0
        assert min(a[name].values) == min(b[name].values) == -40.0
        assert len(a[name].steps) <= 100 and len(b[name].steps) <= 100
        assert a[name].steps == sorted(a[name].steps)
    assert live.latest_values() == fresh.latest_values() == {"train/loss": _value(6599), "val/loss": _value(6599)}
    assert live.last_id == fresh.last_id


def test_short_curves_are_drawn_exactly_and_epoch_axes_detected(db_url):
    run_id = _new_run(db_url)
    with session_scope(db_url) as s:
        queries.add_metrics(session=s, rows=[{"run_id": run_id, "step": e, "epoch": e, "name": "val/loss",
                                              "value": 1.0 / (e + 1)} for e in range(5)])
        queries.add_metrics(session=s, rows=[{"run_id": run_id, "step": b * 10, "name": "train/loss", "value": 2.0}
                                             for b in range(7)])
    curves = RunCurves(run_id)
    with session_scope(db_url) as s:
        curves.refresh(s)
    series = curves.series()
    assert series["val/loss"].steps == [0, 1, 2, 3, 4]
    assert series["val/loss"].values == [1.0, 0.5, 1 / 3, 0.25, 0.2]
    assert series["val/loss"].per_epoch and not series["train/loss"].per_epoch
    assert series["train/loss"].steps == [0, 10, 20, 30, 40, 50, 60]


def test_bulk_ingest_round_trip(db_url):
    run_id = _new_run(db_url)
    stamp = datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=timezone.utc)
    rows = [{"run_id": run_id, "step": i, "epoch": i // 10, "name": f"m{i % 3}", "value": i * 0.5, "time": stamp}
            for i in range(3000)]
    rows += [{"run_id": run_id, "step": 5000, "name": "no/epoch", "value": -1.25}]  # epoch and time left out
    with session_scope(db_url) as s:
        queries.add_metrics(session=s, rows=rows)
        queries.add_metrics(session=s, rows=[])
    with session_scope(db_url) as s:
        back = queries.metric_rows(session=s, run_id=run_id)
    assert len(back) == len(rows)
    got = {(m.name, m.step): (m.epoch, m.value, m.time) for m in back}
    assert got[("m1", 7)] == (0, 3.5, stamp)
    assert got[("m2", 2999)] == (299, 1499.5, stamp)
    epoch, value, when = got[("no/epoch", 5000)]
    assert epoch is None and value == -1.25 and when.tzinfo is not None
