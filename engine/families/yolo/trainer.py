"""The ``yolo`` trainer: Ultralytics classify / detect / segment, bridged to a RunContext.

Ultralytics keeps its own ``best.pt`` and ``last.pt`` and resumes from a ``.pt`` it loads
itself, so the checkpoint the worker verified (``ctx.resume``) has its digest checked again
right before it is handed over. The run registers ``best.pt`` unless ``select_model: last``.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from engine.core import DatasetRef, FitResult, ModelArtifact, RunContext, RunDiverged, Trainer, check_stop
from engine.devices import plan_devices
from engine.families.yolo.callbacks import RunBridge, rename_metrics
from engine.families.yolo.config import YoloConfig, compatible_tasks
from engine.families.yolo.data import scan
from engine.families.yolo.ddp import ResultsFollower, device_args
from engine.families.yolo.offline import prepare_ultralytics
from engine.families.yolo.prepare import build_training_view
from engine.trust import verify_recorded

log = logging.getLogger("trainyard.yolo")

__all__ = ["YoloTrainer", "resume_file", "training_view"]

SHOWN_PROBLEMS = 50
PLOTS = True  # Ultralytics' own plots (labels, batches, results.png, confusion matrix, PR/F1 curves), offline-safe


def resume_file(ctx: RunContext) -> Path | None:
    """The checkpoint to resume from, for Ultralytics to load: the one the worker verified, its
    sha256 checked again now (a bare test context's ``resume_from`` as it is); None to start fresh."""
    resume = getattr(ctx, "resume", None)
    if resume is not None:
        return verify_recorded(resume.path, resume.sha256, what="checkpoint")
    return Path(ctx.resume_from) if ctx.resume_from else None


# tasks whose weights another task's run may start from (matching layers transfer, the head is new)
_TRANSFERABLE = {"detect": {"detect", "segment"}, "segment": {"segment", "detect"}, "classify": {"classify"}}


def _start_from_version(model: Any, config: YoloConfig, ctx: RunContext) -> None:
    """Fine-tune from model version ``init_version``: its ``.pt`` (a file Trainyard registered,
    its sha256 checked again right now, since Ultralytics unpickles it) loads into the model
    built from the config with Ultralytics' own ``model.load``, which copies the tensors whose
    name and shape match, so a head for another class count (or segment↔detect) is new."""
    init = getattr(ctx, "init_weights", None)
    if init is None:
        raise ValueError(f"init_version {config.init_version}: this run was handed no verified start weights "
                         "(the worker resolves the model version)")
    task = init.meta.get("task")
    if task and config.task not in _TRANSFERABLE.get(task, {task}):
        raise ValueError(f"init_version {config.init_version}: {init.what} is a yolo {task} model; it cannot start "
                         f"a {config.task} run (compatible: {', '.join(sorted(_TRANSFERABLE.get(task, {task})))})")
    path = verify_recorded(init.path, init.sha256, what=f"{init.what} artifact")
    before = {k: v.clone() for k, v in model.model.state_dict().items()}
    model.load(str(path))
    moved = sum(1 for k, v in model.model.state_dict().items() if k in before and not v.equal(before[k]))
    log.info("fine-tuning from %s (%s): %d of %d tensors transferred", init.what, task, moved, len(before))


def _scanned(config: YoloConfig, dataset: DatasetRef):
    """Scan a dataset again (its problems go to the run log); its report."""
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
    return report


def training_view(config: YoloConfig, dataset: DatasetRef, out: Path,
                   extra: tuple[DatasetRef, ...] = ()) -> tuple[Path, dict[str, int]]:
    """Scan the dataset (and the ``extra_datasets`` combined with it) and link their valid part
    for Ultralytics, classes matched by name, kept and renamed as the config says."""
    refs = (dataset, *extra)
    reports = [_scanned(config, ref) for ref in refs]
    scanned = [DatasetRef(name=ref.name, kind=ref.kind, root=Path(ref.root), id=ref.id, summary=rep.summary)
               for ref, rep in zip(refs, reports)]
    problems = config.combine_problems(scanned[0], tuple(scanned[1:]))
    if problems:
        raise ValueError("; ".join(problems))
    names, maps = config.combined_classes([list(rep.summary.get("names", [])) for rep in reports])
    view, sizes = build_training_view(reports, out / "data", train_ratio=config.train_ratio, seed=config.seed,
                                      names=names, maps=maps, data_fraction=config.data_fraction)
    if len(refs) > 1 or config.classes or config.class_map:
        log.info("training on %s: %d class(es): %s", " + ".join(r.name for r in refs), len(names), ", ".join(names))
    log.info("training view %s: %s", view, ", ".join(f"{k}={v}" for k, v in sorted(sizes.items())))
    return view, sizes


def _train(model: Any, args: dict[str, Any]) -> None:
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


def _selected(config: YoloConfig, trainer: Any, bridge: RunBridge) -> tuple[Path, dict[str, float]]:
    """The weights the run registers and their validation metrics: Ultralytics' ``best.pt`` (its
    closing validation) unless the config selects ``last`` or there is no best."""
    best, last = Path(trainer.best), Path(trainer.last)
    if config.select_model == "best" and best.exists():
        return best, dict(bridge.final or bridge.last_epoch_metrics)
    return last, dict(bridge.last_epoch_metrics)


class YoloTrainer(Trainer):
    family = "yolo"

    def fit(self, config: YoloConfig, dataset: DatasetRef | None, ctx: RunContext) -> FitResult:
        if dataset is None:
            raise ValueError("the yolo family trains on a dataset of kind 'yolo'; choose one")
        out = Path(ctx.out_dir)
        prepare_ultralytics()
        ctx.progress(0, 1, "prepare")
        extra = tuple(getattr(ctx, "extra_datasets", None) or ())
        if len(extra) != len(config.extra_datasets):
            raise ValueError(f"extra_datasets {list(config.extra_datasets)}: this run was handed {len(extra)} of "
                             "them (the worker resolves the dataset ids)")
        view, sizes = training_view(config, dataset, out, extra)
        check_stop(ctx)

        from ultralytics import YOLO

        source = config.model_source()  # user files only from the models folder (engine.trust)
        plan = plan_devices(ctx.device, gpus=config.gpus, amp=config.amp)
        placed = device_args(plan, amp=config.amp, batch=config.batch)
        device = placed["device"].split(",")[0]  # the closing test on one device
        args = {**config.train_args(), "data": str(view), **placed, "plots": PLOTS, "val": True,
                "project": str(out), "name": "ultralytics", "exist_ok": True, "verbose": True}
        resume = resume_file(ctx)
        done = getattr(getattr(ctx, "resume", None), "meta", {}).get("step") if resume else None
        if resume and done is not None and done + 1 >= config.epochs:
            # cancelled or killed after its last epoch (in Ultralytics' closing validation): nothing is
            # left to train and Ultralytics refuses to resume a finished training, so close with it
            log.info("checkpoint %s is epoch %d of %d: nothing left to train; closing the run with its weights",
                     resume.name, done, config.epochs)
            return _closed(config, resume, view, sizes, ctx, device=device, out=out, extra=extra, step=done)
        if resume:
            args["resume"] = str(resume)
        model = YOLO(str(resume) if resume else source, task=config.task)
        if config.init_version and not resume:
            if plan.multi:  # DDP ranks build the model from args["model"]: weights loaded here never reach them
                raise ValueError(f"init_version {config.init_version} with device {config.device}: Ultralytics' DDP "
                                 "ranks rebuild the model from its file, so the transferred weights would be lost; "
                                 "fine-tune on one GPU")
            _start_from_version(model, config, ctx)
        bridge = RunBridge(ctx)
        if plan.multi:  # DDP ranks are fresh processes: callbacks never reach them, results.csv does
            follower = ResultsFollower(ctx, out / "ultralytics", config.epochs)
            try:
                with follower:
                    _train(model, args)
            except Exception:
                if follower.stopped:
                    check_stop(ctx)
                raise
            bridge.logged, bridge.last_epoch_metrics = set(follower.logged), dict(follower.last_epoch_metrics)
        else:
            for event, fn in bridge.callbacks().items():
                model.add_callback(event, fn)
            _train(model, args)
        check_stop(ctx)

        weights, summary = _selected(config, model.trainer, bridge)
        summary["epochs_trained"] = float(len(bridge.logged))
        return _finish(config, weights, summary, view, sizes, ctx, device=device, out=out, extra=extra,
                       step=max(bridge.logged, default=0))


def _validate(config: YoloConfig, weights: Path, view: Path, split: str, *, device: str, out: Path) -> dict[str, float]:
    """``weights`` (a file this run wrote or the worker verified) on one split of the view."""
    from ultralytics import YOLO

    result = YOLO(str(weights), task=config.task).val(
        data=str(view), split=split, imgsz=config.image_size(), batch=config.batch, device=device,
        workers=config.workers, plots=PLOTS, project=str(out), name=split, exist_ok=True, verbose=False)
    return rename_metrics(dict(result.results_dict), split)


def _finish(config: YoloConfig, weights: Path, summary: dict[str, float], view: Path, sizes: dict[str, int],
            ctx: RunContext, *, device: str, out: Path, extra: tuple, step: int) -> FitResult:
    """The closing part of a run: ``weights`` on the test split (when there is one), the data
    sizes in the summary, and the model to register."""
    if sizes.get("test"):
        ctx.progress(0, 1, "test")
        test = _validate(config, weights, view, "test", device=device, out=out)
        ctx.log(test, step=step, epoch=step)
        summary.update(test)
        ctx.progress(1, 1, "test")
    summary.update({f"data/{split}_images": float(n) for split, n in sizes.items()})
    summary["data/datasets"] = float(1 + len(extra))
    return FitResult(metrics=summary, model=ModelArtifact(path=weights, scope=config.task, task=config.task,
                                                          metrics=summary))


def _closed(config: YoloConfig, checkpoint: Path, view: Path, sizes: dict[str, int], ctx: RunContext, *,
            device: str, out: Path, extra: tuple, step: int) -> FitResult:
    """A resume whose checkpoint is the last epoch: its weights validated again on the val split
    (the metrics a finished run's summary holds) and closed like any run, registering that file."""
    ctx.progress(0, 1, "val")
    summary = _validate(config, checkpoint, view, "val", device=device, out=out)
    ctx.progress(1, 1, "val")
    summary["epochs_trained"] = float(step + 1)
    return _finish(config, checkpoint, summary, view, sizes, ctx, device=device, out=out, extra=extra, step=step)
