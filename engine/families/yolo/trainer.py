"""The ``yolo`` trainer: Ultralytics classify / detect / segment, bridged to a RunContext."""
from __future__ import annotations

import logging
from pathlib import Path

from engine.core import DatasetRef, FitResult, ModelArtifact, RunContext, RunDiverged, Trainer, check_stop
from engine.families.yolo.callbacks import RunBridge, rename_metrics
from engine.families.yolo.config import YoloConfig, compatible_tasks
from engine.families.yolo.data import scan
from engine.families.yolo.offline import prepare_ultralytics
from engine.families.yolo.prepare import build_training_view

log = logging.getLogger("trainyard.yolo")

__all__ = ["YoloTrainer"]

SHOWN_PROBLEMS = 50
PLOTS = True  # Ultralytics' own plots (labels, batches, results.png, confusion matrix, PR/F1 curves), offline-safe


def _ultralytics_device(device: str) -> str:
    return device.split(":", 1)[1] if device.startswith("cuda:") else device


class YoloTrainer(Trainer):
    family = "yolo"

    def fit(self, config: YoloConfig, dataset: DatasetRef | None, ctx: RunContext) -> FitResult:
        if dataset is None:
            raise ValueError("the yolo family trains on a dataset of kind 'yolo'; choose one")
        out = Path(ctx.out_dir)
        prepare_ultralytics()

        ctx.progress(0, 1, "prepare")
        report = scan(Path(dataset.root), task="classify" if config.task == "classify" else None)
        data_task = report.summary.get("task")
        if config.task not in compatible_tasks(data_task):
            raise ValueError(f"dataset {dataset.name!r} holds {data_task or 'no usable'} data; "
                             f"it cannot train task {config.task!r}")
        if report.problems:
            log.warning("dataset %s: %d problem(s); %d image(s) left out of training", dataset.name,
                        len(report.problems), report.summary.get("excluded_images", 0))
            for problem in report.problems[:SHOWN_PROBLEMS]:
                log.warning("  %s", problem)
        if not report.samples:
            raise ValueError(f"dataset {dataset.name!r} has no valid images to train on")
        view, sizes = build_training_view(report, out / "data", train_ratio=config.train_ratio, seed=config.seed)
        log.info("training view %s: %s", view, ", ".join(f"{k}={v}" for k, v in sorted(sizes.items())))
        check_stop(ctx)

        from ultralytics import YOLO

        source = config.model_source()  # user files only from the models folder (engine.trust)
        resume = Path(ctx.resume_from) if ctx.resume_from else None
        model = YOLO(str(resume) if resume else source, task=config.task)
        bridge = RunBridge(ctx)
        for event, fn in bridge.callbacks().items():
            model.add_callback(event, fn)
        device = _ultralytics_device(ctx.device)
        args = {**config.train_args(), "data": str(view), "device": device, "plots": PLOTS, "val": True,
                "amp": bool(config.amp and ctx.device.startswith("cuda")), "project": str(out),
                "name": "ultralytics", "exist_ok": True, "verbose": True}
        if resume:
            args["resume"] = str(resume)
        try:
            model.train(**args)
        except RuntimeError as exc:
            # Ultralytics reloads last.pt up to 3 times on a NaN/inf loss, then gives up; that is a
            # diverged run like any other (the context's guard catches the cases it lets through)
            if "NaN" not in str(exc):
                raise
            epoch = getattr(getattr(model, "trainer", None), "epoch", None)
            where = f"step {epoch} (epoch {epoch})" if epoch is not None else "the current epoch"
            raise RunDiverged(f"loss became NaN at {where}; try a lower learning rate") from exc
        check_stop(ctx)

        trainer = model.trainer
        best = Path(trainer.best) if Path(trainer.best).exists() else Path(trainer.last)
        summary = dict(bridge.final or bridge.last_epoch_metrics)
        if sizes.get("test"):
            ctx.progress(0, 1, "test")
            result = YOLO(str(best), task=config.task).val(
                data=str(view), split="test", imgsz=config.imgsz, batch=config.batch, device=device,
                workers=config.workers, plots=PLOTS, project=str(out), name="test", exist_ok=True, verbose=False)
            test = rename_metrics(dict(result.results_dict), "test")
            ctx.log(test, step=max(bridge.logged, default=0), epoch=max(bridge.logged, default=0))
            summary.update(test)
            ctx.progress(1, 1, "test")
        summary["epochs_trained"] = float(len(bridge.logged))
        summary.update({f"data/{split}_images": float(n) for split, n in sizes.items()})
        return FitResult(metrics=summary, model=ModelArtifact(path=best, scope=config.task, task=config.task,
                                                              metrics=summary))
