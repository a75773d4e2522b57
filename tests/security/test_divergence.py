"""A diverging run ends ``failed`` with advice, keeps its metrics and its last good checkpoint;
NaN and infinite metric values survive the database round trip."""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from db import queries
from db.models import RunStatus
from db.session import session_scope
from engine.divergence import DivergenceGuard
from jobs import api
from tests.conftest import wait_for_status

ENDED = [RunStatus.completed, RunStatus.failed, RunStatus.cancelled]


def _series(run_id: int, name: str) -> list[tuple[int, float]]:
    with session_scope() as s:
        return [(m.step, m.value) for m in queries.metric_rows(session=s, run_id=run_id, names=[name])]


def test_nan_loss_fails_the_run_with_the_explanation_and_keeps_metrics_and_checkpoint(stack, worker):
    run = api.submit_run(family="toy", config={"epochs": 5, "batches": 3, "nan_at_epoch": 2})
    done = wait_for_status(run.id, ENDED)
    assert done.status == RunStatus.failed
    assert done.error == "loss became NaN at step 2 (epoch 2); try a lower learning rate"
    for name in ("train/loss", "val/loss"):
        series = _series(run.id, name)
        assert [step for step, _ in series] == [0, 1, 2], name
        assert all(math.isfinite(v) for _, v in series[:2]) and math.isnan(series[2][1]), series
    with session_scope() as s:
        ckpts = queries.list_checkpoints(session=s, run_id=run.id)
    assert [c.step for c in ckpts] == [0, 1]
    assert "Traceback" not in (Path(done.out_dir) / "train.log").read_text()

    # the last good checkpoint resumes: epoch 2 is trained again (and diverges again), nothing doubles
    resumed = api.resume_run(run.id)
    assert resumed.resume_from == ckpts[-1].path
    again = wait_for_status(run.id, ENDED)
    assert again.error == "loss became NaN at step 2 (epoch 2); try a lower learning rate"
    assert [step for step, _ in _series(run.id, "val/loss")] == [0, 1, 2]
    assert f"resuming from {ckpts[-1].path}" in (Path(done.out_dir) / "train.log").read_text()


def test_exploding_loss_fails_the_run_before_it_reaches_nan(stack, worker):
    run = api.submit_run(family="toy", config={"epochs": 6, "batches": 4, "lr": 2.0})
    done = wait_for_status(run.id, ENDED)
    assert done.status == RunStatus.failed
    assert done.error.startswith("loss exploded to ") and "over 1000× its first value" in done.error
    assert done.error.endswith("at step 1 (epoch 1); try a lower learning rate")
    assert [step for step, _ in _series(run.id, "train/loss")] == [0, 1]


def test_nan_and_infinities_round_trip_through_the_database(stack):
    from db.models import utcnow

    values = {"a/loss": float("nan"), "b/loss": float("inf"), "c/loss": float("-inf"), "d": 1.5, "e": -0.0}
    with session_scope() as s:
        run = queries.create_run(session=s, family="toy", config={})
        queries.add_metrics(session=s, rows=[{"run_id": run.id, "step": 0, "epoch": 0, "name": k, "value": v,
                                              "time": utcnow()} for k, v in values.items()])
    with session_scope() as s:
        rows = {m.name: m.value for m in queries.metric_rows(session=s, run_id=run.id)}
        latest = queries.latest_metrics(session=s, run_id=run.id)
        assert not s.dirty  # decoding on load writes nothing back
    for got in (rows, latest):
        assert math.isnan(got["a/loss"]) and got["b/loss"] == math.inf and got["c/loss"] == -math.inf
        assert got["d"] == 1.5 and got["e"] == 0.0
        assert all(isinstance(v, float) for v in got.values())
    with session_scope() as s:  # still stored as written after the reading session committed
        assert math.isnan(queries.latest_metrics(session=s, run_id=run.id)["a/loss"])
        assert queries.first_finite_metric(session=s, run_id=run.id, name="a/loss") is None


@pytest.mark.parametrize("factor, values, expected", [
    (1000.0, [2.0, 1999.0], None),
    (1000.0, [2.0, 2001.0], "loss exploded to 2001 (over 1000× its first value 2) at step 1 (epoch 1); try a lower learning rate"),
    (0.0, [2.0, 1e30], None),  # 0: the factor check is off
    (0.0, [2.0, float("inf")], "loss became inf at step 1 (epoch 1); try a lower learning rate"),
    (1000.0, [0.0, 1e9], None),  # a first value of 0 gives no scale
    (1000.0, [1e-6, 0.5], None),  # many-fold but still small
    (1000.0, [-1.0, -5000.0], None),  # a log-likelihood loss improving
    (1000.0, [1.0, float("-inf")], "loss became -inf at step 1 (epoch 1); try a lower learning rate"),
])
def test_guard_judges_each_loss_against_its_first_value(factor, values, expected):
    guard = DivergenceGuard(factor)
    assert guard.check({"train/loss": values[0], "acc": float("nan")}, step=0, epoch=0) is None  # not a loss
    assert guard.check({"train/loss": values[1]}, step=1, epoch=1) == expected


def test_guard_after_resume_uses_the_first_value_recorded_before_it():
    guard = DivergenceGuard(10.0, first_value=lambda name: 1.0)
    assert "exploded" in guard.check({"val/loss": 11.0}, step=7)
