"""Evaluate a saved YOLO model with Ultralytics' own validator (``YOLO(weights).val``) on a split
of a yolo dataset: P, R, mAP50, mAP50-95 (and the mask metrics for segment) or top1/top5, named
as the trainer names them (``test/mAP50-95`` ...), and Ultralytics' own plots (confusion matrix,
PR / P / R / F1 curves), which need no font download once ``prepare_ultralytics`` ran.

The data is the same view of the dataset training builds (``trainer.training_view`` with the
run's ``train_ratio`` and ``seed``), so ``test`` is the trainer's test split, evaluated by the
same call the trainer makes at its end. The weights are a ``.pt`` Trainyard registered, its
sha256 checked right before Ultralytics unpickles it (the trust boundary in DESIGN.md).
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.core import DatasetRef, EvalContext, EvalResult, EvaluationRefused, VerifiedFile, check_stop
from engine.families.yolo.config import YoloConfig, compatible_tasks
from engine.trust import verify_recorded

__all__ = ["evaluate", "eval_splits"]

SPLITS = ("train", "val", "test")


def eval_splits(dataset: DatasetRef, task: str | None = None) -> tuple[str, ...]:
    """The dataset's splits that hold images; ``EvaluationRefused`` when its task does not fit
    the model's (a classify model on detect data, say). Light: reads the import summary only."""
    summary = dict(dataset.summary or {})
    data_task = summary.get("task")
    if task and task not in compatible_tasks(data_task):
        raise EvaluationRefused(f"dataset {dataset.name!r} holds {data_task or 'no usable'} data; a yolo {task} "
                                f"model cannot be evaluated on it")
    counts = summary.get("splits") or {}
    return tuple(s for s in SPLITS if counts.get(s))


def evaluate(model: VerifiedFile, dataset: DatasetRef, split: str, ctx: EvalContext,
             options: Mapping[str, Any]) -> EvalResult:
    from engine.devices import plan_devices
    from engine.families.yolo.ddp import device_args
    from engine.families.yolo.offline import prepare_ultralytics
    from engine.families.yolo.trainer import PLOTS, training_view

    meta = dict(model.meta or {})
    config = YoloConfig.model_validate({**(meta.get("config") or {}), **({"task": meta["task"]} if meta.get("task")
                                                                         else {})})
    out = Path(ctx.out_dir)
    prepare_ultralytics()
    ctx.progress(0, 2, "prepare")
    view, sizes = training_view(config, dataset, out)
    if not sizes.get(split):
        raise EvaluationRefused(f"split {split!r} of dataset {dataset.name!r} holds no valid image")
    check_stop(ctx)
    from ultralytics import YOLO

    from engine.families.yolo.callbacks import rename_metrics

    ctx.progress(1, 2, "evaluate")
    weights = verify_recorded(model.path, model.sha256, what=f"{model.what} weights")
    placed = device_args(plan_devices(ctx.device, amp=config.amp), amp=config.amp, batch=config.batch)
    device = placed["device"].split(",")[0]  # validation runs on one device (Ultralytics' val has no DDP)
    result = YOLO(str(weights), task=config.task).val(
        data=str(view), split=split, imgsz=config.image_size(), batch=config.batch, device=device,
        workers=config.workers, plots=PLOTS, project=str(out), name="val", exist_ok=True, verbose=False)
    metrics = rename_metrics(dict(result.results_dict), split)
    metrics[f"{split}/images"] = float(sizes[split])
    tables: dict[str, list[dict[str, Any]]] = {}
    names = getattr(result, "names", None) or {}
    if config.task != "classify" and hasattr(result, "class_result") and hasattr(result, "ap_class_index"):
        rows = []
        for i, c in enumerate(result.ap_class_index):
            p, r, ap50, ap = (float(v) for v in result.class_result(i)[:4])
            rows.append({"class": names.get(int(c), str(c)), "precision": p, "recall": r, "mAP50": ap50,
                         "mAP50-95": ap})
        tables["per_class"] = rows
    ctx.progress(2, 2, "evaluate")
    files = sorted(p for p in (out / "val").glob("*") if p.suffix in (".png", ".jpg") and p.is_file())
    return EvalResult(metrics=metrics, tables=tables, artifacts=files)
