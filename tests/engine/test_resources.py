"""Resource readings: every visible GPU (a fake NVML stands in here, this machine has none),
the run process tree's own CPU and RAM, free disk, and the per-run summary folded from them."""
from __future__ import annotations

import psutil
import pytest

from engine.resources import (
    GpuReading,
    ResourceReading,
    ResourceTotals,
    _Nvml,
    disk_free_gb,
    read_resources,
    visible_gpu_indices,
)


@pytest.mark.parametrize("env, count, visible", [
    ({}, 3, [0, 1, 2]), ({"CUDA_VISIBLE_DEVICES": ""}, 3, []), ({"CUDA_VISIBLE_DEVICES": "2,0"}, 3, [2, 0]),
    ({"CUDA_VISIBLE_DEVICES": "1,7"}, 2, [1]), ({"CUDA_VISIBLE_DEVICES": "GPU-abc"}, 2, [0, 1]),
])
def test_visible_gpus_follow_cuda_visible_devices(env, count, visible):
    assert visible_gpu_indices(count, env) == visible


class _FakeNvml:
    def __init__(self, readings):
        self.readings = readings
        self.asked_pids = None

    def read_all(self, pids=None):
        self.asked_pids = pids
        return self.readings


def test_a_reading_covers_every_gpu_the_process_tree_and_disk(tmp_path):
    fake = _FakeNvml([GpuReading(0, "A100", 40.0, 8000.0, 40000.0, 61.0, 250.0, 3000.0),
                      GpuReading(1, "A100", 90.0, 30000.0, 40000.0, 70.0, 300.0, 1000.0)])
    reading = read_resources(psutil.Process(), fake, disks=(tmp_path, tmp_path / "not-yet" / "artifacts"))
    assert psutil.Process().pid in fake.asked_pids  # the run's own processes are matched on the GPUs
    assert reading.gpu_percent == 90.0 and reading.gpu_mem_percent == 75.0
    assert reading.gpu_proc_mem_mb == 4000.0
    assert reading.ram_mb > 0 and reading.proc_cpu_percent is not None and reading.proc_cpu_percent >= 0
    assert reading.disk_home_free_gb > 0 and reading.disk_artifacts_free_gb == pytest.approx(
        reading.disk_home_free_gb, rel=0.05)  # a folder not made yet: its nearest existing parent
    row = reading.as_row()
    assert [g["temp_c"] for g in row["gpus"]] == [61.0, 70.0] and row["gpus"][1]["power_w"] == 300.0


def test_this_machine_without_a_gpu_reads_none():
    nvml = _Nvml()
    if nvml.handles:  # a GPU machine: make gpu-check covers it
        return
    reading = read_resources(nvml=nvml, disks=(None, None))
    assert reading.gpus == () and reading.gpu_percent is None and reading.disk_home_free_gb is None
    assert reading.as_row()["gpus"] is None


def test_disk_free_of_an_unreadable_path_is_none():
    assert disk_free_gb(None) is None


def _reading(ram_mb, gpu_proc=None, gpus=()):
    return ResourceReading(cpu_percent=10, ram_percent=20, ram_mb=ram_mb, gpu_proc_mem_mb=gpu_proc, gpus=gpus)


def test_the_run_summary_keeps_peaks_and_gpu_hours():
    totals = ResourceTotals(gpus_used=2)
    totals.add(_reading(1000, 2000), at=0.0)
    totals.add(_reading(3000, 1500), at=1800.0)  # half an hour on two GPUs: one GPU-hour
    totals.add(_reading(2000, None, ({"mem_used_mb": 2500.0},)), at=3600.0)
    s = totals.summary()
    assert s["peak_ram_mb"] == 3000 and s["peak_gpu_mem_mb"] == 2500 and s["gpu_hours"] == pytest.approx(2.0)
    assert s["gpus"] == 2 and s["samples"] == 3


def test_a_cpu_run_has_no_gpu_hours():
    totals = ResourceTotals(gpus_used=0)
    totals.add(_reading(500), at=0.0)
    totals.add(_reading(700), at=7200.0)
    assert totals.summary() == {"peak_ram_mb": 700, "peak_gpu_mem_mb": None, "gpu_hours": 0.0, "gpus": 0,
                                "samples": 2}
