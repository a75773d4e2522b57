"""Evaluate a saved anomaly autoencoder on a split of a drawings dataset.

The split is the one the model's own config makes of the group's normal drawings (same
fractions, seed and age stratification as training), so ``test`` here is the trainer's test
split; ``held-out`` is validation + test (the normal side of the trainer's AUROC), ``all`` every
normal drawing of the group (for a dataset the model never saw). The labelled anomalies of the
group are never trained on, so every split scores against all of them. The threshold is the
model version's; a bare checkpoint (which has none) gets it the way training placed it: the
configured percentile of its validation errors.

Metrics, named as the trainer names them: ``<split>/loss`` (mean reconstruction error of the
split's normal drawings), ``threshold`` and, where labels exist, ``<split>/auroc`` and
``<split>/precision`` / ``<split>/recall`` at the threshold (the family's own ``metrics``, as in
training); artifacts: ``errors.json`` and the histogram of errors normal vs anomalous against
the threshold beside the ROC curve (``plots.write_error_plots``).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from engine.checkpoints import load_verified
from engine.core import DatasetRef, EvalContext, EvalResult, EvaluationRefused, VerifiedFile, check_stop
from engine.families.anomaly.config import AnomalyConfig
from engine.families.anomaly.data import is_anomalous
from engine.families.anomaly.embeddings import ensure_embeddings, load_vectors
from engine.families.anomaly.metrics import auroc, precision_recall
from engine.families.anomaly.plots import write_error_plots
from engine.families.anomaly.splits import EVAL_SPLITS as SPLITS
from engine.families.anomaly.splits import stratified_split
from engine.families.anomaly.sufficiency import samples_in_group
from engine.families.anomaly.trainer import ARTIFACT_KIND, CHECKPOINT_KIND, build_model, embedding_store

__all__ = ["evaluate"]


def _normal_split(config: AnomalyConfig, normal: list, split: str) -> list[int]:
    tr, va, te = stratified_split([float(r.group_value) for r in normal],
                                  (config.train_split, config.val_split, config.test_split),
                                  seed=config.seed, stratify=config.stratify_by_age)
    return {"train": tr, "val": va, "test": te, "held-out": sorted(va + te),
            "all": list(range(len(normal)))}[split]


def evaluate(model: VerifiedFile, dataset: DatasetRef, split: str, ctx: EvalContext,
             options: Mapping[str, Any]) -> EvalResult:
    if split not in SPLITS:
        raise EvaluationRefused(f"split {split!r}: anomaly models evaluate on {', '.join(SPLITS)}")
    state = load_verified(model.path, model.sha256, what=model.what)
    if state.get("kind") not in (ARTIFACT_KIND, CHECKPOINT_KIND):
        raise EvaluationRefused(f"{model.what} is not an anomaly autoencoder")
    config = AnomalyConfig.model_validate(state["config"])
    net = build_model(config, int(state["input_dim"]))
    net.load_state_dict(state["model"])
    net.eval()
    if ctx.device == "cpu":
        torch.set_num_threads(1)  # a small MLP; intra-op threads only spin (see the trainer)

    rows = samples_in_group(dataset.samples, config.age_range)
    normal = [r for r in rows if not is_anomalous(r.label)]
    anomalous = [r for r in rows if is_anomalous(r.label)]
    store = embedding_store(ctx)
    ensure_embeddings(store, config.backbone, rows, root=dataset.root, batch_size=config.embed_batch_size,
                      device=ctx.device, progress=lambda d, t: ctx.progress(d, t, "embed"),
                      should_stop=ctx.should_stop)
    check_stop(ctx)
    mean, std = state["mean"].numpy(), state["std"].numpy()

    def errors(ids: list[int]) -> np.ndarray:
        if not ids:
            return np.zeros(0, np.float32)
        x = (load_vectors(store, config.backbone, ids) - mean) / std
        with torch.no_grad():
            return net.errors(torch.from_numpy(x.astype(np.float32))).numpy()

    normal_ids = [r.id for r in normal]
    chosen = [normal_ids[i] for i in _normal_split(config, normal, split)]
    if not chosen:
        raise EvaluationRefused(f"split {split!r} of age group {config.age_group} in dataset {dataset.name!r} "
                                f"holds no normal drawing")
    err, anom = errors(chosen), errors([r.id for r in anomalous])
    threshold = model.meta.get("threshold") if model.meta else None
    if threshold is None:
        threshold = state.get("threshold")
    if threshold is None:  # a checkpoint: place it as training does
        val = errors([normal_ids[i] for i in _normal_split(config, normal, "val")])
        threshold = float(np.percentile(val, config.threshold_percentile))
    threshold = float(threshold)
    ctx.progress(1, 1, "evaluate")

    metrics = {f"{split}/loss": float(err.mean()), "threshold": threshold,
               f"{split}/normal": float(len(err)), f"{split}/anomalous": float(len(anom)),
               f"{split}/flagged_normal": float((err > threshold).mean())}
    if len(anom):
        metrics[f"{split}/auroc"] = auroc(err, anom)
        metrics[f"{split}/precision"], metrics[f"{split}/recall"] = precision_recall(err, anom, threshold)
    files = write_error_plots(ctx.out_dir, {split: err, "anomalous": anom}, threshold, group=config.age_group)
    return EvalResult(metrics=metrics, artifacts=files)
