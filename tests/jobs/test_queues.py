"""The queue carries plain data only: Trainyard's enqueue helpers refuse anything else before
Redis sees it, and a worker never runs a job that was pickled."""
from __future__ import annotations

import pickle
import time

import pytest
from rq import Queue

from db import queries
from db.models import RunStatus
from db.session import session_scope
from jobs import api, queues
from jobs.connection import QUEUE_NAMES, SCORING_QUEUE, get_redis
from jobs.wire import NotPlainData
from tests.conftest import wait_for_status


def _queued() -> tuple[dict[str, int], set[bytes]]:
    conn = get_redis()
    return ({name: queues.queue(name).count for name in (*QUEUE_NAMES, SCORING_QUEUE)},
            set(conn.scan_iter("rq:job:*")))


def _run_count() -> int:
    with session_scope() as s:
        return len(queries.list_runs(session=s, limit=1_000_000))


@pytest.mark.parametrize("call, named", [
    (lambda: api.generate_sample_dataset("drawings", name="never-made", count={120}),
     "the arguments of jobs.datasets.generate_sample_job[2]['count'] is a builtins.set"),
    (lambda: api.request_prediction(1, {"image": b"\x89PNG", "age": 4.0, "note": object()}),
     "the arguments of jobs.inference.predict_job[1]['note'] is a builtins.object"),
    (lambda: api.submit_embedding(dataset_id=1, backbone=b"tiny-vit"),
     "the arguments of jobs.embeddings.embed_dataset_job[1] is a builtins.bytes"),
    (lambda: queues.enqueue(queues.queue("low"), "jobs.tasks.execute_run", 1, {1: "one"}),
     "the arguments of jobs.tasks.execute_run[1] has the key 1 (int)"),
], ids=["sample-data", "prediction", "embedding", "run"])
def test_a_payload_that_is_not_plain_data_is_refused_and_nothing_is_queued(stack, call, named):
    before = _queued()
    with pytest.raises(NotPlainData) as err:
        call()
    assert str(err.value).startswith(named)
    assert _queued() == before
    with session_scope() as s:
        assert queries.get_dataset_by_name(session=s, name="never-made") is None


def test_a_run_whose_payload_is_not_plain_data_leaves_no_row(stack, monkeypatch):
    """A run job's payload is built from database ids; should any part of it ever not be plain
    data, the run is refused like a run Redis refused: nothing queued, its row deleted."""
    monkeypatch.setattr(queries, "bump_attempt", lambda **_: {1})  # an attempt number JSON cannot carry
    before, runs = _queued(), _run_count()
    with pytest.raises(NotPlainData, match=r"execute_run\[1\] is a builtins.set"):
        api.submit_run(family="toy", config={"epochs": 1})
    assert _queued() == before
    assert _run_count() == runs


class _Trap:
    """Unpickling this creates the file ``path``: a stand-in for any code a pickle can run."""

    def __init__(self, path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return open, (self.path, "w")


def test_a_worker_refuses_a_pickled_job_and_runs_nothing(stack, worker, tmp_path):
    marker = tmp_path / "unpickled"
    with session_scope() as s:
        run = queries.create_run(session=s, family="toy", config={"epochs": 1}, priority="high")
    try:
        # written with RQ's default serializer (pickle) straight onto a queue the worker listens to
        planted = Queue("high", connection=get_redis()).enqueue("jobs.tasks.execute_run", run.id, _Trap(marker))
        deadline = time.monotonic() + 60
        while (job := queues.fetch_job(planted.id)).get_status(refresh=False).value not in ("failed", "finished"):
            assert time.monotonic() < deadline, "the worker never took the planted job"
            time.sleep(0.1)
        assert job.get_status(refresh=False).value == "failed"
        assert "DeserializationError" in job.latest_result().exc_string
        assert not marker.exists(), "the worker unpickled the payload"
        with session_scope() as s:
            untouched = queries.get_run(session=s, run_id=run.id)
            assert untouched.status == RunStatus.pending and untouched.attempt == 0
            assert untouched.started_at is None and untouched.worker is None
            assert queries.metric_rows(session=s, run_id=run.id) == []
        assert worker.poll() is None, "the worker died on the planted job"
        ok = api.submit_run(family="toy", config={"epochs": 1}, priority="high")  # and it still serves JSON jobs
        assert wait_for_status(ok.id, [RunStatus.completed, RunStatus.failed]).status == RunStatus.completed
        _, _, args, _ = pickle.loads(planted.data)  # the control: this payload does run code once unpickled
        args[1].close()
        assert marker.exists()
    finally:
        with session_scope() as s:
            queries.set_run_status(session=s, run_id=run.id, status=RunStatus.cancelled)
