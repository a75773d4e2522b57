"""The whole transition path on generated patients: import on a worker, a tiny CNN + transformer
trained through the queue on Lightning, a learning assertion, exactly top-3 + last + final
checkpoints, per-patient split stored, test per-axis errors, cancel and resume without duplicate
or missing epochs, and prediction on the scoring lane."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from db import queries
from db.models import RunStatus
from db.session import session_scope
from engine.families.transition.config import AXES
from jobs import api
from settings import get_settings
from tests.conftest import wait_for_status

TINY = {"d_model": 32, "num_heads": 4, "num_layers": 1, "cnn_channels": 32, "batch_size": 16, "lr": 3e-3,
        "early_stop_patience": 0, "scheduler": "cosine", "warmup_epochs": 1}
EPOCHS = 15
PER_GROUP = 80
ENDED = [RunStatus.completed, RunStatus.failed, RunStatus.cancelled]
# Measured on the generated data (8 patients x 80, 1 thread, lr 3e-3 after a one-epoch warmup, cosine):
# predicting the training mean scores a val main-task loss of about 0.47; the tiny model reaches
# about 0.40 after the first epoch and 0.17 at its best (0.42 of its first epoch, 0.36 of the
# baseline; with data seed 2: 0.46 and 0.41). Without the warmup the best was 0.53 of the first
# epoch, with 16 CNN channels 0.59. The issue asks for at least half.
BASELINE_RATIO = 0.6
LEARNING_RATIO = 0.5


@pytest.fixture(scope="module")
def dataset(stack, worker):
    info = api.generate_sample_dataset("transitions", name="transitions-e2e", groups=8, per_group=PER_GROUP, seed=1,
                                       timeout_s=120)
    assert info["samples"] == 8 * PER_GROUP and not info["problems"]
    return info["dataset_id"]


@pytest.fixture(scope="module")
def trained(dataset):
    run = api.submit_run(family="transition", config={**TINY, "max_epochs": EPOCHS}, dataset_id=dataset)
    done = wait_for_status(run.id, ENDED, timeout=400)
    assert done.status == RunStatus.completed, done.error
    return done


def _mean_predictor_loss(run) -> float:
    """The val main-task loss of predicting the training split's mean action: SmoothL1 (beta 1)
    on actions standardised with the training split's mean and std, as the module computes it."""
    with session_scope() as s:
        rows = queries.dataset_samples(session=s, dataset_id=run.dataset_id)
    split = run.summary["split"]
    train = np.array([r.meta["change"] for r in rows if r.label in split["train"]])
    val = np.array([r.meta["change"] for r in rows if r.label in split["val"]])
    z = np.abs((val - train.mean(axis=0)) / np.maximum(train.std(axis=0), 1e-3))
    return float(np.where(z < 1, 0.5 * z ** 2, z - 0.5).mean())


def _steps(run_id: int, name: str = "val/main_task_loss") -> list[tuple[int, float]]:
    with session_scope() as s:
        rows = queries.metric_rows(session=s, run_id=run_id, names=[name])
    return sorted((m.step, m.value) for m in rows)


def test_val_main_task_loss_learns_and_test_errors_are_reported(trained):
    losses = _steps(trained.id)
    assert [s for s, _ in losses] == list(range(EPOCHS))
    first, best = losses[0][1], min(v for _, v in losses)
    baseline = _mean_predictor_loss(trained)
    print(f"val main-task loss per epoch (mean predictor {baseline:.3f}):", [round(v, 3) for _, v in losses])
    assert best <= BASELINE_RATIO * baseline, (baseline, losses)
    assert best <= LEARNING_RATIO * first, losses
    m = trained.summary
    assert m["val/main_task_loss"] == pytest.approx(best, rel=1e-4)
    assert all(m[f"test/mae_{a}"] > 0 for a in AXES) and m["test/mae_mean"] > 0
    # translations are learnt: the test error on x and y beats predicting the training mean
    # (the mean absolute deviation of a uniform +/-6 mm action is 3 mm; measured 1.2-1.6 mm)
    assert m["test/mae_x"] < 2.4 and m["test/mae_y"] < 2.4, m


def test_split_is_per_patient_and_stored_with_the_run(trained):
    split = trained.summary["split"]
    out = Path(trained.out_dir)
    assert json.loads((out / "split.json").read_text()) == split
    patients = [p for s in ("train", "val", "test") for p in split[s]]
    assert len(patients) == len(set(patients)) == 8 and all(split[s] for s in ("train", "val", "test"))
    for name in ("experiment_config.json", "dataset_stats.json", "plots/dataset_statistics.png",
                 "plots/training_summary.png", "logs/transition_csv/metrics.csv"):
        assert (out / name).is_file(), name
    assert list((out / "logs" / "transition").glob("events.out.tfevents.*"))


def test_exactly_top3_last_and_final_checkpoints_remain_and_are_registered(trained):
    out = Path(trained.out_dir)
    files = sorted(p.name for p in (out / "checkpoints").glob("*.ckpt"))
    assert len(files) == 4 and "last.ckpt" in files and (out / "final_model.ckpt").is_file()
    top = [f for f in files if f != "last.ckpt"]
    losses = sorted(v for _, v in _steps(trained.id))[:3]
    assert sorted(float(f.rsplit("=", 1)[1][:-5]) for f in top) == pytest.approx(losses, abs=1e-4)
    with session_scope() as s:
        ckpts = queries.list_checkpoints(session=s, run_id=trained.id)
        model = queries.list_model_versions(session=s, family="transition")[0]
    registered = {Path(c.path).name for c in ckpts}
    assert set(files) | {"final_model.ckpt"} <= registered
    best = [c for c in ckpts if c.best]
    assert len(best) == 1 and best[0].monitored == pytest.approx(min(losses), abs=1e-6)
    assert Path(model.artifact_path).name == Path(best[0].path).name


def test_predict_two_frames_via_the_worker(trained):
    with session_scope() as s:
        mv = next(m for m in queries.list_model_versions(session=s, family="transition") if m.run_id == trained.id)
        ds = queries.get_dataset(session=s, dataset_id=trained.dataset_id)
        sample = queries.dataset_samples(session=s, dataset_id=ds.id)[0]
    root = Path(ds.root)
    out = api.request_prediction(mv.id, {"frame1": (root / sample.meta["ft1"]).read_bytes(),
                                         "frame2": (root / sample.meta["ft2"]).read_bytes(),
                                         "true_action": sample.meta["change"]}, timeout_s=60)
    assert out["axes"] == list(AXES) and len(out["predicted"]) == 6
    assert out["true"] == sample.meta["change"]
    assert out["abs_error"] == pytest.approx([abs(p - t) for p, t in zip(out["predicted"], out["true"])])


def test_cancel_then_resume_continues_without_duplicate_or_missing_epochs(dataset):
    run = api.submit_run(family="transition", config={**TINY, "max_epochs": 5}, dataset_id=dataset)
    deadline = time.monotonic() + 300
    while len(_steps(run.id)) < 2:
        assert time.monotonic() < deadline, "no epoch logged"
        time.sleep(0.3)
    api.cancel_run(run.id)
    done = wait_for_status(run.id, ENDED, timeout=200)
    assert done.status == RunStatus.cancelled, done.error
    with session_scope() as s:
        latest = queries.latest_checkpoint(session=s, run_id=run.id)
    assert Path(latest.path).name == "last.ckpt"
    api.resume_run(run.id)
    done = wait_for_status(run.id, ENDED, timeout=300)
    assert done.status == RunStatus.completed, done.error
    assert [s for s, _ in _steps(run.id)] == list(range(5))
    assert [s for s, _ in _steps(run.id, "train/main_task_loss")] == list(range(5))
    assert done.summary["epochs"] == 5
    assert len(list((Path(done.out_dir) / "checkpoints").glob("*.ckpt"))) == 4


def test_offline_cli_lists_options_and_trains_with_a_headline_summary(dataset, capsys):
    from cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["train", "transition", "--help"])
    assert exit_info.value.code == 0
    shown = capsys.readouterr().out
    assert "--dataset" in shown and "--set KEY=VALUE" in shown and "token_type (default 'spatial')" in shown
    with session_scope() as s:
        name = queries.get_dataset(session=s, dataset_id=dataset).name
    sets = [f"{k}={v}" for k, v in {**TINY, "max_epochs": 1}.items()]
    assert main(["train", "transition", "--dataset", name, *[a for kv in sets for a in ("--set", kv)]]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    head = lines.index(next(line for line in lines if line.startswith("run ") and line.endswith(": completed")))
    assert lines[head + 1].startswith("  val main-task loss: ") and "lower is better" in lines[head + 1]
    assert lines[head + 2].startswith("  test mean per-axis error: ")
    assert "best_checkpoint: transition-epoch=00-" in out


def test_select_model_last_registers_the_final_model(dataset):
    from engine.checkpoints import sha256_file

    run = api.submit_run(family="transition", config={**TINY, "max_epochs": 2, "select_model": "last"},
                         dataset_id=dataset)
    done = wait_for_status(run.id, ENDED, timeout=300)
    assert done.status == RunStatus.completed, done.error
    with session_scope() as s:
        model = next(m for m in queries.list_model_versions(session=s, family="transition") if m.run_id == run.id)
        final = [c for c in queries.list_checkpoints(session=s, run_id=run.id)
                 if Path(c.path).name == "final_model.ckpt"]
    assert Path(model.artifact_path).name == done.summary["model_checkpoint"] == "final_model.ckpt"
    assert model.sha256 == final[-1].sha256 == sha256_file(Path(model.artifact_path))
    assert done.summary["best_checkpoint"].startswith("transition-epoch=")
    assert done.summary["val/main_task_loss"] == pytest.approx(_steps(run.id)[-1][1], rel=1e-6)


def test_checkpoints_with_the_older_rng_layout_still_resume():
    import random

    import torch

    from engine.families.transition.bridge import RunBridge

    bridge = RunBridge(ctx=None, checkpoint=None)
    old = {"torch": torch.get_rng_state(), "python": list(random.getstate()[1]), "python_version": random.getstate()[0]}
    expected = (random.random(), float(torch.rand(1)))
    bridge.on_load_checkpoint(None, None, {"trainyard_rng": old})
    assert (random.random(), float(torch.rand(1))) == expected
    saved: dict = {}
    bridge.on_save_checkpoint(None, None, saved)
    expected = (random.random(), float(np.random.rand()), float(torch.rand(1)))
    bridge.on_load_checkpoint(None, None, saved)
    assert (random.random(), float(np.random.rand()), float(torch.rand(1))) == expected


def test_per_patient_test_errors_list_every_test_patient_and_debug_fraction_trains_a_subset(dataset):
    """Manual patient lists with three test patients, on a quarter of the data (``debug_fraction``):
    the per-patient table (summary, CSV, plot) has one row per test patient, none other."""
    import csv

    with session_scope() as s:
        patients = sorted({r.label for r in queries.dataset_samples(session=s, dataset_id=dataset)})
    lists = {"train_patients": patients[:4], "val_patients": patients[4:5], "test_patients": patients[5:]}
    config = {**TINY, "max_epochs": 1, "manual_splits": True, **lists, "debug_fraction": 0.25}
    run = api.submit_run(family="transition", config=config, dataset_id=dataset)
    done = wait_for_status(run.id, ENDED, timeout=300)
    assert done.status == RunStatus.completed, done.error
    rows = done.summary["per_patient"]
    assert [r["patient"] for r in rows] == patients[5:]
    assert all(r["transitions"] == PER_GROUP // 4 and r["mae_mean"] > 0 for r in rows)
    assert done.summary["data/train"] == 4 * PER_GROUP // 4  # debug_fraction: a quarter of each patient
    out = Path(done.out_dir)
    with open(out / "per_patient_errors.csv", newline="") as fh:
        assert [r["patient"] for r in csv.DictReader(fh)] == patients[5:]
    assert (out / "plots" / "per_patient_errors.png").is_file()


def test_the_pre_training_check_refuses_a_full_disk_before_training(dataset):
    run = api.submit_run(family="transition", config={**TINY, "max_epochs": 1, "min_free_disk_mb": 10_000_000},
                         dataset_id=dataset)
    done = wait_for_status(run.id, ENDED, timeout=120)
    assert done.status == RunStatus.failed
    assert "pre-training check failed" in done.error and "min_free_disk_mb=10000000" in done.error
    assert not _steps(run.id)  # nothing trained
