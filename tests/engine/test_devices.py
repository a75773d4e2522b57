"""Devices: every family's ``device`` takes auto, cpu, mps, cuda, cuda:N or a list of GPU
indices and refuses anything else naming the value; ``gpus`` is derived from it or checked
against it; what a run on a given plan hands each library (DDP, DataParallel, Lightning ddp,
AMP) is decided by pure functions, tested here without CUDA."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

import tests.fixtures.toy_family  # noqa: F401  (registers the toy family)
from engine.configs import ConfigError, validate_config
from engine.devices import (
    DevicePlan,
    DeviceUnavailable,
    needed_gpus,
    normalise_device,
    plan_devices,
    required_visible,
    resolve_device,
)
from engine.families import FAMILIES

WITH_DEVICE = sorted(k for k, f in FAMILIES.items() if "device" in f.config_model.model_fields)
MULTI_GPU = [k for k in WITH_DEVICE if k not in ("ppo", "toy")]  # ppo: stable-baselines3 trains on one device


def test_every_built_in_family_has_device_and_gpus():
    for key in ("anomaly", "yolo", "reid", "ppo", "transition"):
        fields = FAMILIES[key].config_model.model_fields
        assert "device" in fields and "gpus" in fields, key


@pytest.mark.parametrize("key", WITH_DEVICE)
@pytest.mark.parametrize("given, stored", [
    ("auto", "auto"), ("cpu", "cpu"), ("CPU", "cpu"), ("mps", "mps"), ("cuda", "cuda"), ("cuda:1", "cuda:1"),
    ("3", "cuda:3"), (0, "cuda:0"), (" cuda:2 ", "cuda:2"),
])
def test_device_strings_every_family_accepts(key, given, stored):
    cfg = validate_config(FAMILIES[key], {"device": given})
    assert cfg.device == stored
    assert validate_config(FAMILIES[key], cfg.model_dump(mode="json")) == cfg  # stored form validates again


@pytest.mark.parametrize("key", MULTI_GPU)
def test_a_list_of_gpu_indices_is_one_multi_gpu_run(key):
    cfg = validate_config(FAMILIES[key], {"device": "0, 1", **({"batch": 16} if key == "yolo" else {})})
    assert cfg.device == "0,1" and needed_gpus(cfg.device, cfg.gpus) == 2


@pytest.mark.parametrize("key", WITH_DEVICE)
@pytest.mark.parametrize("bad", ["gpu", "cuda:", "cuda:-1", "0,0", "1.5", "cuda:x", "tpu", "", "cuda:99"])
def test_device_strings_every_family_refuses_naming_the_value(key, bad):
    with pytest.raises(ConfigError) as err:
        validate_config(FAMILIES[key], {"device": bad})
    assert any(e.field == "device" for e in err.value.errors), err.value
    assert repr(bad) in str(err.value) or "device" in str(err.value)


@pytest.mark.parametrize("key", WITH_DEVICE)
@pytest.mark.parametrize("data, named", [
    ({"device": "cpu", "gpus": 1}, "contradicts device: cpu"),
    ({"device": "cuda", "gpus": 0}, "contradicts device: cuda"),
    ({"device": "0,1", "gpus": 3}, "contradicts device: 0,1"),
    ({"gpus": -1}, "gpus"),
    ({"gpus": 65}, "gpus"),
])
def test_gpus_that_contradict_the_device_are_refused(key, data, named):
    with pytest.raises(ConfigError, match=named):
        validate_config(FAMILIES[key], data)


def test_ppo_refuses_several_gpus():
    with pytest.raises(ConfigError, match="at most 1 GPU"):
        validate_config(FAMILIES["ppo"], {"device": "0,1"})


def test_anomaly_still_reads_mixed_precision_as_amp():
    assert validate_config(FAMILIES["anomaly"], {"mixed_precision": False}).amp is False


@pytest.mark.parametrize("device, gpus, need, visible", [
    ("auto", None, 0, 0), ("cpu", None, 0, 0), ("mps", None, 0, 0), ("cuda", None, 1, 1), ("cuda:3", None, 1, 4),
    ("0,1", None, 2, 2), ("1,3", None, 2, 4), ("auto", 2, 2, 2), ("cuda", 4, 4, 4), ("auto", 0, 0, 0),
])
def test_what_a_run_needs_from_a_worker(device, gpus, need, visible):
    assert (needed_gpus(device, gpus), required_visible(device, gpus)) == (need, visible)


def test_resolve_device_refuses_what_the_worker_lacks_naming_the_value():
    assert resolve_device("auto", count=0) in ("cpu", "mps")
    assert resolve_device("auto", count=2) == "cuda"
    assert resolve_device("0,1", count=2) == "cuda:0,1"
    assert resolve_device("cuda:1", count=2) == "cuda:1"
    with pytest.raises(DeviceUnavailable, match="'cuda:3' was requested but this worker sees 2 GPU"):
        resolve_device("3", count=2)
    with pytest.raises(DeviceUnavailable, match="'cuda' was requested but CUDA is not available"):
        resolve_device("cuda", count=0)


def test_resolve_device_on_this_cpu_machine_refuses_cuda():
    import torch

    if torch.cuda.is_available():  # a GPU machine (make gpu-check covers it); the CPU path is the subject here
        assert resolve_device("cuda") == "cuda"
        return
    with pytest.raises(DeviceUnavailable, match="CUDA is not available on this worker"):
        resolve_device("cuda")


@pytest.mark.parametrize("device, gpus, count, plan", [
    ("cpu", None, 0, DevicePlan("cpu")),
    ("cuda", None, 1, DevicePlan("cuda", (0,), amp=True)),
    ("cuda", 2, 2, DevicePlan("cuda", (0, 1), amp=True)),
    ("cuda", 0, 1, DevicePlan("cuda", (0,), amp=True)),  # auto with gpus 0 on a GPU worker: one GPU
    ("cuda:1", None, 2, DevicePlan("cuda", (1,), amp=True)),
    ("cuda:0,1", None, 2, DevicePlan("cuda", (0, 1), amp=True)),
])
def test_plans(device, gpus, count, plan):
    assert plan_devices(device, gpus=gpus, amp=True, count=count) == plan


@pytest.mark.parametrize("device, gpus, count, named", [
    ("cuda", 3, 2, "needs GPU(s) 0,1,2 (gpus: 3) but this worker sees 2"),
    ("cpu", 1, 0, "gpus: 1 was requested but this worker trains on cpu"),
    ("cuda:0,1", None, 1, "this worker sees 1"),
])
def test_plans_refused_at_the_start_of_a_run(device, gpus, count, named):
    with pytest.raises(DeviceUnavailable, match=named.replace("(", r"\(").replace(")", r"\)")):
        plan_devices(device, gpus=gpus, count=count)


def test_plan_properties():
    two = DevicePlan("cuda", (0, 1), amp=True)
    assert (two.primary, two.multi, two.data_parallel_ids) == ("cuda:0", True, [0, 1])
    one = DevicePlan("cuda", (2,))
    assert (one.primary, one.multi, one.data_parallel_ids) == ("cuda:2", False, None)
    assert DevicePlan("cpu").primary == "cpu"
    assert normalise_device("cuda:0,1") == "0,1"


# ---- what each library is handed -----------------------------------------------------------


@pytest.mark.parametrize("plan, amp, batch, expected", [
    (DevicePlan("cpu"), True, 16, {"device": "cpu", "amp": False, "batch": 16}),
    (DevicePlan("mps"), True, 16, {"device": "mps", "amp": False, "batch": 16}),
    (DevicePlan("cuda", (1,), amp=True), True, 16, {"device": "1", "amp": True, "batch": 16}),
    (DevicePlan("cuda", (0, 1), amp=True), True, 16, {"device": "0,1", "amp": True, "batch": 16}),
    (DevicePlan("cuda", (0,)), False, 8, {"device": "0", "amp": False, "batch": 8}),
])
def test_yolo_device_arguments(plan, amp, batch, expected):
    from engine.families.yolo.ddp import device_args

    assert device_args(plan, amp=amp, batch=batch) == expected


def test_yolo_ddp_refuses_a_batch_that_does_not_split():
    from engine.families.yolo.ddp import device_args

    with pytest.raises(ValueError, match="batch 15 does not split over 2 GPUs"):
        device_args(DevicePlan("cuda", (0, 1)), amp=True, batch=15)


@pytest.mark.parametrize("data, plan, expected", [
    ({}, DevicePlan("cpu"), {"accelerator": "cpu", "devices": 1, "strategy": "auto", "precision": "32-true"}),
    ({}, DevicePlan("cuda", (1,), amp=True),
     {"accelerator": "gpu", "devices": [1], "strategy": "auto", "precision": "16-mixed"}),
    ({}, DevicePlan("cuda", (0, 1), amp=True),
     {"accelerator": "gpu", "devices": [0, 1], "strategy": "ddp", "precision": "16-mixed"}),
    ({"amp": False}, DevicePlan("cuda", (0,)),
     {"accelerator": "gpu", "devices": [0], "strategy": "auto", "precision": "32-true"}),
    ({"precision": "bf16-mixed"}, DevicePlan("cuda", (0, 1)),
     {"accelerator": "gpu", "devices": [0, 1], "strategy": "ddp", "precision": "bf16-mixed"}),
])
def test_transition_lightning_arguments(data, plan, expected):
    from engine.families.transition.trainer import lightning_args

    assert lightning_args(validate_config(FAMILIES["transition"], data), plan) == expected


@pytest.mark.parametrize("plan, expected", [
    (DevicePlan("cpu"), {"use_gpu": False, "current_device": None, "data_parallel": None, "autocast": None}),
    (DevicePlan("cuda", (1,), amp=True), {"use_gpu": True, "current_device": 1, "data_parallel": None,
                                          "autocast": "cuda"}),
    (DevicePlan("cuda", (0, 1)), {"use_gpu": True, "current_device": 0, "data_parallel": [0, 1], "autocast": None}),
])
def test_reid_placement(plan, expected):
    from engine.families.reid.trainer import placement

    assert placement(plan) == expected


def test_one_device_keeps_the_model_unwrapped():
    import torch

    from engine.devices import wrap_data_parallel

    model = torch.nn.Linear(2, 1)
    assert wrap_data_parallel(model, DevicePlan("cpu")) is model
    assert wrap_data_parallel(model, DevicePlan("cuda", (0,))) is model


# ---- yolo under DDP: metrics come from rank 0's results.csv ------------------------------------------


class _Ctx:
    def __init__(self) -> None:
        self.logged, self.progressed, self.checkpoints = [], [], []

    def log(self, metrics, *, step, epoch=None):
        self.logged.append((step, dict(metrics)))

    def progress(self, done, total, phase="train"):
        self.progressed.append((done, total))

    def checkpoint(self, path, *, step, monitored=None, best=None):
        self.checkpoints.append((Path(path).name, step, monitored))

    def should_stop(self):
        return False


def _write_results(path: Path, rows: list[list[str]]) -> None:
    header = ["epoch", "time", "train/box_loss", "train/cls_loss", "metrics/precision(B)", "metrics/mAP50-95(B)",
              "val/box_loss", "lr/pg0", "lr/pg1"]
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def test_results_csv_rows_become_the_metrics_the_callbacks_log():
    from engine.families.yolo.ddp import row_metrics

    step, metrics = row_metrics({"epoch": "3", "time": "12.5", "train/box_loss": "1.25", "metrics/mAP50-95(B)": "0.4",
                                 "val/box_loss": "1.5", "lr/pg0": "0.01", "lr/pg1": "0.02"})
    assert step == 2
    assert metrics == {"train/box_loss": 1.25, "val/mAP50-95": 0.4, "val/box_loss": 1.5, "lr": 0.01}
    assert row_metrics({"epoch": "", "time": "1"}) is None


def test_the_follower_logs_each_epoch_once_and_registers_last_pt(tmp_path):
    from engine.families.yolo.ddp import ResultsFollower

    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "last.pt").write_bytes(b"weights")
    ctx = _Ctx()
    follower = ResultsFollower(ctx, tmp_path, epochs=3)
    assert follower.poll() == 0  # no results.csv yet
    _write_results(tmp_path / "results.csv", [["1", "2", "1.5", "2.0", "0.1", "0.2", "1.7", "0.01", "0.01"]])
    assert follower.poll() == 1
    _write_results(tmp_path / "results.csv", [["1", "2", "1.5", "2.0", "0.1", "0.2", "1.7", "0.01", "0.01"],
                                              ["2", "4", "1.2", "1.8", "0.3", "0.35", "1.4", "0.009", "0.01"]])
    assert follower.poll() == 1 and follower.poll() == 0
    assert [s for s, _ in ctx.logged] == [0, 1]
    assert ctx.logged[1][1]["val/mAP50-95"] == 0.35 and ctx.logged[1][1]["lr"] == 0.009
    assert ctx.progressed == [(1, 3), (2, 3)]
    assert [(name, step, m) for name, step, m in ctx.checkpoints] == [
        ("last-step000000.pt", 0, 0.2), ("last-step000001.pt", 1, 0.35)]
    assert follower.last_epoch_metrics == ctx.logged[-1][1]
