"""YOLO trains for real through the queue: each task, cancel + resume, broken data, prediction."""
from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from PIL import Image

from db import queries
from db.models import RunStatus
from db.session import session_scope
from engine.checkpoints import sha256_file
from jobs import api
from jobs.datasets import generate_sample_job, import_dataset
from settings import get_settings
from tests.conftest import wait_for_status
from tests.fixtures.yolo_data import TINY, make_broken_segment

EXPECTED = {
    "detect": {"train/box_loss", "train/cls_loss", "train/dfl_loss", "val/box_loss", "val/precision",
               "val/recall", "val/mAP50", "val/mAP50-95", "lr"},
    "segment": {"train/seg_loss", "val/seg_loss", "val/mask_precision", "val/mask_recall", "val/mask_mAP50",
                "val/mask_mAP50-95", "val/mAP50"},
    "classify": {"train/loss", "val/loss", "val/top1", "val/top5", "lr"},
}
TEST = {"detect": "test/mAP50-95", "segment": "test/mask_mAP50-95", "classify": "test/top1"}


def _dataset(task: str, count: int = 24, size: int = 64, name: str | None = None) -> int:
    info = generate_sample_job("yolo", name or f"yolo-{task}-{count}", {"task": task, "count": count, "size": size})
    return info["dataset_id"]


def _steps(run_id: int, name: str) -> list[int]:
    with session_scope() as s:
        return [m.step for m in queries.metric_rows(session=s, run_id=run_id, names=[name])]


@pytest.mark.parametrize("task", ["detect", "segment", "classify"])
def test_each_task_trains_with_epoch_metrics_and_registers_a_model(stack, worker, task):
    run = api.submit_run(family="yolo", config={**TINY, "task": task}, dataset_id=_dataset(task))
    done = wait_for_status(run.id, [RunStatus.completed, RunStatus.failed, RunStatus.cancelled], timeout=300)
    assert done.status == RunStatus.completed, done.error
    with session_scope() as s:
        rows = queries.metric_rows(session=s, run_id=run.id)
        models = queries.list_model_versions(session=s, family="yolo")  # active or candidate: the policy decides
        ckpts = queries.list_checkpoints(session=s, run_id=run.id)
    names = {m.name for m in rows}
    assert EXPECTED[task] <= names, EXPECTED[task] - names
    for name in EXPECTED[task]:
        assert _steps(run.id, name) == [0, 1], name
    assert TEST[task] in names and TEST[task] in done.summary
    # each epoch registers its own copy of last.pt, which keeps the sha256 recorded for it
    assert [Path(c.path).name for c in ckpts] == ["last-step000000.pt", "last-step000001.pt"]
    assert all(sha256_file(Path(c.path)) == c.sha256 for c in ckpts)
    model = next(m for m in models if m.run_id == run.id)
    assert model.task == task and model.scope == task and Path(model.artifact_path).name == "best.pt"
    assert Path(model.artifact_path).is_file()
    assert done.progress_done == done.progress_total > 0
    log = (Path(done.out_dir) / "train.log").read_text()
    assert "Starting training for 2 epochs" in log  # Ultralytics' own LOGGER lands in the run log
    assert Path(done.out_dir, "ultralytics", "weights", "last.pt").is_file()


def test_prediction_with_the_active_detect_and_classify_models(stack, worker):
    with session_scope() as s:
        active = {m.task: m for m in queries.list_model_versions(session=s, family="yolo", active_only=True)}
    if "detect" not in active or "classify" not in active:
        pytest.skip("needs the training tests above")
    img = Image.new("RGB", (80, 60), (120, 130, 140))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    out = api.request_prediction(active["detect"].id, {"image": buf.getvalue(), "conf": 0.0001}, timeout_s=120)
    assert out["task"] == "detect" and out["width"] == 80 and out["height"] == 60
    assert out["detections"] and {"class", "confidence", "box"} <= set(out["detections"][0])
    assert Image.open(io.BytesIO(out["image_png"])).size == (80, 60)
    out = api.request_prediction(active["classify"].id, {"image": buf.getvalue()}, timeout_s=120)
    assert len(out["top5"]) == 3 and abs(sum(t["confidence"] for t in out["top5"]) - 1) < 1e-3


def test_cancelled_detect_run_resumes_at_the_next_epoch_without_duplicate_steps(stack, worker):
    # bigger epochs than the other tests, so the cancel lands inside epoch 1
    dataset_id = _dataset("detect", count=120, size=96, name="yolo-detect-resume")
    run = api.submit_run(family="yolo", dataset_id=dataset_id,
                         config={**TINY, "epochs": 3, "batch": 4, "imgsz": 96})
    deadline = time.monotonic() + 240
    while True:
        with session_scope() as s:
            if queries.latest_checkpoint(session=s, run_id=run.id):
                break
            status = queries.get_run(session=s, run_id=run.id).status
        assert status.active or status == RunStatus.pending, status
        assert time.monotonic() < deadline, "no checkpoint after epoch 0"
        time.sleep(0.1)
    api.cancel_run(run.id)
    done = wait_for_status(run.id, [RunStatus.cancelled, RunStatus.completed, RunStatus.failed], timeout=120)
    assert done.status == RunStatus.cancelled, done.error
    before = _steps(run.id, "val/mAP50")
    assert before in ([0], [0, 1])

    api.resume_run(run.id)
    done = wait_for_status(run.id, [RunStatus.completed, RunStatus.failed, RunStatus.cancelled], timeout=300)
    assert done.status == RunStatus.completed, done.error
    for name in ("val/mAP50", "train/box_loss", "lr"):
        assert _steps(run.id, name) == [0, 1, 2], name
    log = (Path(done.out_dir) / "train.log").read_text()
    assert f"from epoch {len(before) + 1} to 3 total epochs" in log  # Ultralytics resumed from last.pt


def test_a_run_stopped_after_its_last_epoch_resumes_by_closing_not_training(stack, worker):
    """Killed in Ultralytics' closing validation: the newest checkpoint is the last epoch, which
    Ultralytics refuses to resume ("nothing to resume"); the resume closes the run with it."""
    run = api.submit_run(family="yolo", config={**TINY, "task": "classify"}, dataset_id=_dataset("classify"))
    done = wait_for_status(run.id, [RunStatus.completed, RunStatus.failed, RunStatus.cancelled], timeout=300)
    assert done.status == RunStatus.completed, done.error
    with session_scope() as s:  # what a kill in the closing phase leaves: the last epoch's checkpoint, no end
        queries.set_run_status(session=s, run_id=run.id, status=RunStatus.failed, error="work horse killed")
        assert queries.latest_checkpoint(session=s, run_id=run.id).step == TINY["epochs"] - 1
    api.resume_run(run.id)
    done = wait_for_status(run.id, [RunStatus.completed, RunStatus.failed, RunStatus.cancelled], timeout=300)
    assert done.status == RunStatus.completed, done.error
    assert _steps(run.id, "val/top1") == [0, 1] and _steps(run.id, "train/loss") == [0, 1]  # nothing trained again
    assert "test/top1" in done.summary and "val/top1" in done.summary
    assert done.summary["epochs_trained"] == TINY["epochs"]
    assert "nothing left to train" in (Path(done.out_dir) / "train.log").read_text()


def test_broken_dataset_is_reported_and_its_valid_part_trains(stack, worker):
    root = make_broken_segment(get_settings().resolved_data_root / "yolo-broken")
    dataset, report = import_dataset(name="yolo-broken", kind="yolo", root=root, replace=True)
    assert len(report.samples) == 24 and len(dataset.summary["problems"]) >= 8
    run = api.submit_run(family="yolo", dataset_id=dataset.id,
                         config={**TINY, "task": "segment", "epochs": 1, "select_model": "last"})
    done = wait_for_status(run.id, [RunStatus.completed, RunStatus.failed, RunStatus.cancelled], timeout=300)
    assert done.status == RunStatus.completed, done.error
    assert _steps(run.id, "val/mask_mAP50") == [0]
    with session_scope() as s:
        model = next(m for m in queries.list_model_versions(session=s, family="yolo") if m.run_id == run.id)
    assert Path(model.artifact_path).name == "last.pt"  # select_model: last registers Ultralytics' last.pt
    out = Path(done.out_dir)
    listed = (out / "data" / "train.txt").read_text().splitlines()
    assert len(listed) == 15 and not any(Path(p).resolve().stem in {f"{i:05d}" for i in range(6)} for p in listed)
    log = (out / "train.log").read_text()
    assert "labels/train/00001.txt:1: class: class id 7 out of range 0..2" in log


def test_the_resume_checkpoint_is_verified_again_right_before_ultralytics_loads_it(tmp_path):
    from types import SimpleNamespace

    from engine.core import VerifiedFile
    from engine.families.yolo.trainer import resume_file
    from engine.trust import UntrustedModelError

    ckpt = tmp_path / "last-step000000.pt"
    ckpt.write_bytes(b"registered bytes")
    ctx = SimpleNamespace(resume=VerifiedFile(ckpt, sha256_file(ckpt), what="checkpoint"), resume_from=ckpt)
    assert resume_file(ctx) == ckpt
    ckpt.write_bytes(b"swapped after the worker checked it")
    with pytest.raises(UntrustedModelError, match="changed on disk"):
        resume_file(ctx)
    assert resume_file(SimpleNamespace(resume=None, resume_from=None)) is None


def test_two_combined_datasets_train_on_their_union_and_a_conflict_is_refused(stack, worker):
    from engine.configs import ConfigError
    from tests.fixtures.yolo_data import make_bright_squares

    shapes = _dataset("detect", count=16, size=64, name="yolo-union-shapes")  # circle, square, triangle
    data_root = get_settings().resolved_data_root
    squares, _ = import_dataset(name="yolo-union-squares", kind="yolo",
                                root=make_bright_squares(data_root / "yolo-union-squares", count=12, size=64))
    run = api.submit_run(family="yolo", dataset_id=shapes, config={**TINY, "epochs": 1, "extra_datasets": [squares.id]})
    done = wait_for_status(run.id, [RunStatus.completed, RunStatus.failed, RunStatus.cancelled], timeout=300)
    assert done.status == RunStatus.completed, done.error
    with session_scope() as s:
        trains = {d: sum(smp.split == "train" for smp in queries.dataset_samples(session=s, dataset_id=d))
                  for d in (shapes, squares.id)}
    assert done.summary["data/datasets"] == 2
    assert done.summary["data/train_images"] == sum(trains.values())  # every train image of both
    view = Path(done.out_dir) / "data"
    assert len((view / "train.txt").read_text().split()) == sum(trains.values())
    import yaml

    assert yaml.safe_load((view / "data.yaml").read_text())["names"] == {0: "circle", 1: "square", 2: "triangle"}

    spelled = make_bright_squares(data_root / "yolo-union-Squares", count=6, size=64, name="Square")
    other, _ = import_dataset(name="yolo-union-Squares", kind="yolo", root=spelled)
    with pytest.raises(ConfigError, match="differ only in case") as refused:
        api.submit_run(family="yolo", dataset_id=shapes, config={**TINY, "extra_datasets": [other.id]})
    assert refused.value.errors[0].field == "extra_datasets"
    from jobs.launch import plan_launch

    plan = plan_launch("yolo", dataset_id=shapes, config={**TINY, "extra_datasets": [other.id],
                                                          "class_map": {"Square": "square"}})  # mapped: accepted
    assert plan.runs[0].review()["classes"] == "3: circle, square, triangle"
