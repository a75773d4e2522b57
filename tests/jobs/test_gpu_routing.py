"""Workers that own GPUs: every worker registers what it has; a run goes to the lane of what it
needs, so a CPU worker (the real one of the session) never takes a GPU run; a launch no
connected worker could serve is refused naming the value; a run whose worker lacks the device
after all fails at its start naming it.

A GPU machine is not available here: where a test needs one connected, it writes the
registration such a worker writes (``jobs.machines.register`` with GPU indices; NVML is absent,
so the entries carry no name), which is what ``plan_launch`` reads."""
from __future__ import annotations

import socket
import time

import pytest

from db import queries
from db.models import RunStatus
from db.session import session_scope
from engine.configs import ConfigError
from jobs import api, machines, queues
from jobs.connection import get_redis
from tests.conftest import start_worker, stop_worker, wait_for_status


def _run_count() -> int:
    with session_scope() as s:
        return len(queries.list_runs(session=s, limit=1_000_000))


@pytest.fixture
def gpu_box(stack):
    """A registration as a two-GPU worker on another machine writes it (no process behind it)."""
    name = "gpu-box-test"
    machines.register(name, gpus=[0, 1], queues=machines.worker_queues(2))
    yield name
    machines.unregister(name)


def _registered(name: str) -> machines.Machine | None:
    return next((m for m in machines.machines() if m.worker == name), None)


def test_lanes_and_what_a_worker_listens_to():
    assert machines.run_queue("default", 0) == "default"
    assert machines.run_queue("high", 2) == "high-gpu2"
    assert machines.worker_queues(0) == ["high", "default", "low"]
    assert machines.worker_queues(2) == ["high-gpu2", "high-gpu1", "high", "default-gpu2", "default-gpu1",
                                         "default", "low-gpu2", "low-gpu1", "low"]
    assert machines.worker_queues(1, cpu_runs=False) == ["high-gpu1", "default-gpu1", "low-gpu1"]
    assert machines.queue_level("low-gpu3") == 3
    with pytest.raises(ValueError, match="unknown queue"):
        queues.queue("default-gpu0")


def test_gpus_flag_parsing_and_pinning():
    assert machines.parse_gpus(None) == [] and machines.parse_gpus("none") == []
    assert machines.parse_gpus("all", available=3) == [0, 1, 2]
    assert machines.parse_gpus("1,0", available=2) == [1, 0]
    with pytest.raises(ValueError, match="this machine has 2 GPU"):
        machines.parse_gpus("0,2", available=2)
    with pytest.raises(ValueError, match="no GPU that NVML can see"):
        machines.parse_gpus("all", available=0)
    with pytest.raises(ValueError, match="indices such as 0,1"):
        machines.parse_gpus("one")
    env = machines.pin_gpus([2, 3], {})
    assert env == {"CUDA_VISIBLE_DEVICES": "2,3", "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}
    assert machines.pin_gpus([], {})["CUDA_VISIBLE_DEVICES"] == ""


def test_the_cpu_worker_registers_itself_with_a_ttl(stack, worker):
    cpu = [m for m in machines.machines() if m.worker.startswith("test-")]
    assert cpu, [m.worker for m in machines.machines()]
    m = cpu[0]
    assert m.host == socket.gethostname() and m.gpus == [] and m.queues == ["high", "default", "low"]
    assert m.ram_total_mb > 0 and 0 < m.ram_free_mb <= m.ram_total_mb
    ttl = get_redis().ttl(machines.KEY_PREFIX + m.worker)
    assert 0 < ttl <= machines.TTL_S
    row = machines.summary(m)
    assert row["GPUs"] == "none (CPU worker)" and row["host"] == m.host


def test_a_stopped_worker_takes_its_registration_with_it(stack):
    proc = start_worker(stack, "regtest", "--no-reaper", "--no-preload")
    name = next(m.worker for m in machines.machines() if m.worker.startswith("regtest-"))
    stop_worker(proc)
    assert _registered(name) is None


def test_a_cpu_worker_never_takes_a_gpu_run(stack, worker, gpu_box):
    gpu_run = api.submit_run(family="toy", config={"epochs": 1, "device": "cuda", "gpus": 1})
    job = queues.fetch_job(gpu_run.job_id)
    assert job.origin == "default-gpu1"
    cpu_run = api.submit_run(family="toy", config={"epochs": 1})  # queued after it, on the CPU lane
    assert queues.fetch_job(cpu_run.job_id).origin == "default"
    assert wait_for_status(cpu_run.id, [RunStatus.completed]).status == RunStatus.completed
    time.sleep(1.0)  # a worker that listened on the GPU lane would have taken the earlier job by now
    with session_scope() as s:
        still = queries.get_run(session=s, run_id=gpu_run.id)
    assert still.status == RunStatus.pending and still.worker is None
    assert gpu_run.job_id in queues.queue("default-gpu1").job_ids
    api.cancel_run(gpu_run.id)
    wait_for_status(gpu_run.id, [RunStatus.cancelled])


def test_a_two_gpu_run_goes_to_the_two_gpu_lane(stack, gpu_box):
    run = api.submit_run(family="toy", config={"epochs": 1, "device": "0,1"}, priority="high")
    try:
        assert queues.fetch_job(run.job_id).origin == "high-gpu2"
        assert api.queue_depths(gpu_lanes=True).get("high-gpu2", 0) >= 1
    finally:
        api.cancel_run(run.id)


@pytest.mark.parametrize("config, field, named", [
    ({"device": "cuda"}, "device", "'cuda' needs a worker with at least 1 GPU(s); no connected worker"),
    ({"device": "3"}, "device", "'cuda:3' needs a worker that sees at least 4 GPUs (it names GPU 3)"),
    ({"device": "auto", "gpus": 4}, "gpus", "4 needs a worker with at least 4 GPU(s) (device: auto)"),
])
def test_a_launch_no_connected_worker_can_serve_is_refused(stack, worker, gpu_box, config, field, named):
    if config == {"device": "cuda"}:
        machines.unregister(gpu_box)  # only the CPU worker is connected
    before = _run_count()
    with pytest.raises(ConfigError) as err:
        api.submit_run(family="toy", config={"epochs": 1, **config})
    assert [e.field for e in err.value.errors] == [field]
    assert named in str(err.value), str(err.value)
    assert "python -m jobs.worker --gpus" in str(err.value)
    assert _run_count() == before


def test_the_launch_plan_names_the_refusal_before_anything_is_written(stack, gpu_box):
    with pytest.raises(ConfigError, match="sees at least 4 GPUs"):
        api.plan_launch("toy", config={"device": "cuda:3"})
    assert len(api.plan_launch("toy", config={"device": "cuda:1"}).runs) == 1  # the two-GPU box can


def test_a_run_whose_worker_lacks_the_gpu_fails_at_its_start_naming_it(stack, gpu_box):
    run = api.submit_run(family="toy", config={"epochs": 1, "device": "cuda:1"})
    assert queues.fetch_job(run.job_id).origin == "default-gpu2"
    machines.unregister(gpu_box)
    # a worker on that lane whose machine has no GPU after all (its GPUs changed since the launch)
    proc = start_worker(stack, "changed", "--queues", "default-gpu2", "--no-reaper", "--no-preload")
    try:
        ended = wait_for_status(run.id, [RunStatus.failed], timeout=120)
    finally:
        stop_worker(proc)
    assert "device 'cuda:1' was requested but CUDA is not available on this worker" in ended.error
