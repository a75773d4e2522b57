"""Evaluate a saved transition model on a per-patient split of a transitions dataset.

The split is the model's own config's (``split_for``: manual lists or the seeded automatic cut)
applied to this dataset's patients, so ``test`` on the dataset it trained on is the trainer's
test split; ``all`` takes every transition. The aggregate metrics come from Lightning's own
``Trainer.test`` on the module the trainer tests (``<split>/main_task_loss``, ``<split>/loss``,
``<split>/mae_<axis>``, ``<split>/mae_mean``: the names the trainer logs for its test split); the
per-patient breakdown is one plain inference pass (the same errors, grouped by patient).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader

from engine.checkpoints import load_verified
from engine.core import DatasetRef, EvalContext, EvalResult, EvaluationRefused, VerifiedFile, check_stop
from engine.families.transition.config import AXES, TransitionConfig
from engine.families.transition.frames import load_split
from engine.families.transition.splits import SplitError, eval_splits, split_for
from engine.families.transition.trainer import (
    CPU_THREADS,
    EVAL_BATCH,
    lightning_args,
    load_transitions,
    quiet_lightning,
)

__all__ = ["evaluate", "PLOT_FILE"]

PLOT_FILE = "plots/evaluation_errors.png"


def _module(model: VerifiedFile):
    from engine.families.transition.module import TransitionModule

    state = load_verified(model.path, model.sha256, what=model.what)
    hp = state.get("hyper_parameters") or {}
    if "config" not in hp or "norm" not in hp or "state_dict" not in state:
        raise EvaluationRefused(f"{model.what} is not a transition model checkpoint")
    module = TransitionModule(hp["config"], hp["norm"])
    module.load_state_dict(state["state_dict"])
    module.eval()
    return module


def _per_patient(module, tensors, groups: list[str], config: TransitionConfig) -> list[dict[str, Any]]:
    """Main-task loss and per-axis error per patient, in the data's units (one inference pass)."""
    sums: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    f1, f2, change, _ = tensors.tensors
    with torch.no_grad():
        for start in range(0, len(groups), EVAL_BATCH):
            sl = slice(start, start + EVAL_BATCH)
            out = module(f1[sl], f2[sl])
            target = (change[sl] - module.change_mean) / module.change_std
            main = F.smooth_l1_loss(out["action"].float(), target, beta=config.smooth_l1_beta,
                                    reduction="none").mean(dim=1)
            err = (out["action"].float() * module.change_std + module.change_mean - change[sl]).abs()
            for i, g in enumerate(groups[sl]):
                row = sums[g]
                row["transitions"] += 1
                row["main_task_loss"] += float(main[i])
                for k, axis in enumerate(AXES):
                    row[f"mae_{axis}"] += float(err[i, k])
    rows = []
    for g in sorted(sums):
        n = sums[g]["transitions"]
        row = {"patient": g, "transitions": int(n),
               **{k: v / n for k, v in sums[g].items() if k != "transitions"}}
        row["mae_mean"] = sum(row[f"mae_{a}"] for a in AXES) / len(AXES)
        rows.append(row)
    return rows


def _plot(path: Path, metrics: Mapping[str, float], rows: list[dict[str, Any]], split: str) -> Path | None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.6), dpi=80)
    left, right = fig.subplots(1, 2)
    left.bar(list(AXES), [metrics.get(f"{split}/mae_{a}", float("nan")) for a in AXES], color="#1f77b4")
    left.set_title(f"mean absolute error per axis ({split})")
    right.bar([r["patient"] for r in rows], [r["mae_mean"] for r in rows], color="#ff7f0e")
    right.set_title("mean error per patient")
    right.tick_params(axis="x", labelrotation=45, labelsize=7)
    fig.subplots_adjust(bottom=0.25, wspace=0.25)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def evaluate(model: VerifiedFile, dataset: DatasetRef, split: str, ctx: EvalContext,
             options: Mapping[str, Any]) -> EvalResult:
    quiet_lightning()
    import lightning as L

    available = eval_splits(dataset)
    if split not in available:
        raise EvaluationRefused(f"split {split!r}: dataset {dataset.name!r} has {', '.join(available)}")
    module = _module(model)
    config = module.config
    if ctx.device == "cpu":
        torch.set_num_threads(CPU_THREADS)
    items = load_transitions(dataset)
    if split != "all":
        try:
            patients = set(split_for(sorted({t.group for t in items}), config)[split])
        except SplitError as exc:
            raise EvaluationRefused(f"dataset {dataset.name!r}: {exc}") from None
        items = [t for t in items if t.group in patients]
    if not items:
        raise EvaluationRefused(f"split {split!r} of dataset {dataset.name!r} holds no transitions")
    ctx.progress(0, 2, "load")
    tensors = load_split(Path(dataset.root), items, config.image_size)
    check_stop(ctx)
    ctx.progress(1, 2, "evaluate")
    from engine.devices import plan_devices

    placed = lightning_args(config, plan_devices(ctx.device, amp=config.amp))  # one device: no DDP to evaluate
    devices = placed["devices"][:1] if isinstance(placed["devices"], list) else placed["devices"]
    trainer = L.Trainer(accelerator=placed["accelerator"], devices=devices, precision=placed["precision"],
                        logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=ctx.out_dir)
    results = trainer.test(module, DataLoader(tensors, batch_size=max(config.batch_size, EVAL_BATCH)),
                           verbose=False)[0]
    metrics = {f"{split}/{k[5:]}": float(v) for k, v in results.items() if k.startswith("test_")}
    metrics[f"{split}/transitions"] = float(len(items))
    metrics[f"{split}/patients"] = float(len({t.group for t in items}))
    module.cpu()
    rows = _per_patient(module, tensors, [t.group for t in items], config)
    ctx.progress(2, 2, "evaluate")
    files = [p for p in [_plot(Path(ctx.out_dir) / PLOT_FILE, metrics, rows, split)] if p]
    return EvalResult(metrics=metrics, tables={"per_patient": rows}, artifacts=files)
