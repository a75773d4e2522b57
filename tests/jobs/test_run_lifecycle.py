"""The real path: jobs API → Redis queue → worker process → trainer → database."""
from __future__ import annotations

import pytest

from db import queries
from db.models import RunStatus
from db.session import session_scope
from engine.configs import ConfigError
from jobs import api
from tests.conftest import wait_for_status


def test_run_completes_with_metrics_checkpoints_and_model(stack, worker):
    run = api.submit_run(family="toy", config={"epochs": 3, "batches": 3})
    assert run.status == RunStatus.pending and run.job_id
    done = wait_for_status(run.id, [RunStatus.completed, RunStatus.failed])
    assert done.status == RunStatus.completed, done.error
    with session_scope() as s:
        rows = queries.metric_rows(session=s, run_id=run.id)
        ckpts = queries.list_checkpoints(session=s, run_id=run.id)
        models = [m for m in queries.list_model_versions(session=s, family="toy") if m.run_id == run.id]
    assert sorted({m.name for m in rows}) == ["train/loss", "val/loss"]
    assert [m.step for m in rows if m.name == "val/loss"] == [0, 1, 2]
    val = [m.value for m in rows if m.name == "val/loss"]
    assert val[-1] < val[0], "the toy model should learn"
    assert len(ckpts) == 3 and all(len(c.sha256) == 64 for c in ckpts)
    assert sum(c.best for c in ckpts) == 1
    assert len(models) == 1 and models[0].status in ("active", "candidate")  # the policy decides which
    assert done.progress_done == done.progress_total == 9
    assert done.started_at and done.finished_at and done.worker


def test_failing_trainer_stores_error_text(stack, worker):
    run = api.submit_run(family="toy", config={"epochs": 3, "fail_at_epoch": 1})
    done = wait_for_status(run.id, [RunStatus.completed, RunStatus.failed])
    assert done.status == RunStatus.failed
    assert "planted failure at epoch 1" in done.error
    with session_scope() as s:  # metrics logged before the failure are kept
        assert [m.step for m in queries.metric_rows(session=s, run_id=run.id, names=["val/loss"])] == [0]


def test_cancel_mid_run_then_resume_continues_without_duplicate_steps(stack, worker):
    run = api.submit_run(family="toy", config={"epochs": 6, "batches": 5, "sleep_s": 0.1})
    wait_for_status(run.id, [RunStatus.training])
    with session_scope() as s:  # let it get through at least one epoch
        import time

        for _ in range(200):
            if queries.latest_checkpoint(session=s, run_id=run.id):
                break
            time.sleep(0.1)
    api.cancel_run(run.id)
    done = wait_for_status(run.id, [RunStatus.cancelled, RunStatus.completed, RunStatus.failed])
    assert done.status == RunStatus.cancelled
    with session_scope() as s:
        steps_before = [m.step for m in queries.metric_rows(session=s, run_id=run.id, names=["val/loss"])]
    assert 1 <= len(steps_before) < 6

    api.resume_run(run.id)
    done = wait_for_status(run.id, [RunStatus.completed, RunStatus.failed, RunStatus.cancelled])
    assert done.status == RunStatus.completed, done.error
    with session_scope() as s:
        steps = [m.step for m in queries.metric_rows(session=s, run_id=run.id, names=["val/loss"])]
    assert steps == list(range(6))


def test_cancel_while_queued_never_trains(stack):
    # no worker fixture here: with the worker busy or absent the job stays queued
    run = api.submit_run(family="toy", config={"epochs": 1}, priority="low")
    assert api.cancel_run(run.id) == RunStatus.cancelled
    with session_scope() as s:
        got = queries.get_run(session=s, run_id=run.id)
        assert got.status == RunStatus.cancelled
        assert queries.metric_rows(session=s, run_id=run.id) == []


def test_invalid_config_names_the_key_and_enqueues_nothing(stack):
    before = api.queue_depths()
    with session_scope() as s:
        n_runs = len(queries.list_runs(session=s))
    with pytest.raises(ConfigError) as err:
        api.submit_run(family="toy", config={"epochs": 0, "lrr": 1})
    text = str(err.value)
    assert "epochs" in text and "greater than or equal to 1" in text
    assert "lrr" in text and "unknown key" in text
    assert api.queue_depths() == before
    with session_scope() as s:
        assert len(queries.list_runs(session=s)) == n_runs


def test_unknown_family_lists_valid_keys(stack):
    with pytest.raises(KeyError, match="valid: .*toy"):
        api.submit_run(family="nope", config={})


def test_run_whose_worker_went_silent_is_marked_failed(stack):
    from datetime import timedelta

    from db.models import utcnow

    with session_scope() as s:
        run = queries.create_run(session=s, family="toy", config={})
        queries.set_run_status(session=s, run_id=run.id, status=RunStatus.training, worker="gone-1")
        queries.update_run(session=s, run_id=run.id, heartbeat_at=utcnow() - timedelta(seconds=600))
        fresh = queries.create_run(session=s, family="toy", config={})
        queries.set_run_status(session=s, run_id=fresh.id, status=RunStatus.training)
    # the workers' own reaper thread may get there first; either way it is failed with the reason
    assert api.reap_lost_runs() in ([run.id], [])
    with session_scope() as s:
        lost = queries.get_run(session=s, run_id=run.id)
        assert lost.status == RunStatus.failed and "gone-1 stopped reporting" in lost.error
        assert queries.get_run(session=s, run_id=fresh.id).status == RunStatus.training
        queries.set_run_status(session=s, run_id=fresh.id, status=RunStatus.cancelled)


def test_plain_rq_worker_runs_jobs_too(stack):
    """Scale-out without our entry point: ``rq worker --burst`` on the same URL, told to read
    JSON, drains the queue."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from jobs.connection import redis_url
    from jobs.wire import SERIALIZER_PATH

    run = api.submit_run(family="toy", config={"epochs": 1}, priority="high")
    rq_cli = Path(sys.executable).with_name("rq")
    out = subprocess.run([str(rq_cli), "worker", "--burst", "--url", redis_url(), "--serializer", SERIALIZER_PATH,
                          "high"],
                         cwd=Path(__file__).resolve().parents[2], env=dict(os.environ),
                         capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    # the session's own worker (listening on high too) may have taken it first; whoever trains it,
    # its interpreter may still be finishing its imports (a fresh one per run)
    done = wait_for_status(run.id, [RunStatus.completed, RunStatus.failed], timeout=120)
    assert done.status == RunStatus.completed, done.error
