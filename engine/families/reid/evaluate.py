"""Evaluate a saved OSNet on a Market-1501 style dataset with torchreid's own test protocol:
features of ``query`` and of the gallery (``bounding_box_test``), torchreid's distance matrix and
``evaluate_rank`` (``evaluation.evaluate``, the trainer's own), so the numbers are those the
trainer reports as ``val/rank1`` ... for the same weights; here named by the split evaluated,
``test`` (query against gallery): ``test/rank1``, ``test/rank5``, ``test/rank10``, ``test/rank20``,
``test/mAP``. Artifact: the CMC curve. Options: ``rerank`` (1: k-reciprocal re-ranking; default the
model's config) and ``visrank`` (ranked-list images of that many queries, top ``visrank_topk``).
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.core import DatasetRef, EvalContext, EvalResult, EvaluationRefused, VerifiedFile, check_stop

__all__ = ["evaluate", "eval_splits", "SPLITS"]

SPLITS = ("test",)
PLOT_FILE = "plots/cmc.png"


def eval_splits(dataset: DatasetRef, task: str | None = None) -> tuple[str, ...]:
    """``test`` (query against gallery) when the import found both; light (summary only)."""
    counts = dict((dataset.summary or {}).get("splits") or {})
    return SPLITS if counts.get("query") and counts.get("gallery") else ()


def _model(model: VerifiedFile):
    from engine.checkpoints import load_verified
    from engine.families.reid.config import ReidConfig
    from engine.families.reid.trainer import CHECKPOINT_KIND, build_model
    from engine.families.reid.weights import ARTIFACT_KIND

    state = load_verified(model.path, model.sha256, what=model.what)
    kind = state.get("kind")
    if kind == ARTIFACT_KIND:
        config, classes = ReidConfig.model_validate(state["config"]), int(state["num_classes"])
    elif kind == CHECKPOINT_KIND or (kind is None and "model" in state and (model.meta or {}).get("config")):
        config = ReidConfig.model_validate(model.meta["config"])
        heads = [v for k, v in state["model"].items() if k.startswith("classifier.") and k.endswith("weight")]
        classes = int(heads[0].shape[0]) if heads else 1
    else:
        raise EvaluationRefused(f"{model.what} is not a reid model")
    net = build_model(config, classes)
    net.load_state_dict(state["model"])
    return net, config


def _plot(path: Path, metrics: Mapping[str, float], split: str) -> Path:
    from matplotlib.figure import Figure

    from engine.families.reid.evaluation import RANKS

    fig = Figure(figsize=(5, 3.4), dpi=80)
    ax = fig.add_subplot()
    ax.plot(list(RANKS), [metrics[f"{split}/rank{r}"] for r in RANKS], marker="o")
    ax.set_xlabel("rank")
    ax.set_ylabel("matching rate")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"CMC (mAP {metrics[f'{split}/mAP']:.3f})")
    fig.subplots_adjust(bottom=0.16)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def evaluate(model: VerifiedFile, dataset: DatasetRef, split: str, ctx: EvalContext,
             options: Mapping[str, Any]) -> EvalResult:
    import torch

    from engine.families.reid.evaluation import distances, extract, save_ranked_lists
    from engine.families.reid.evaluation import evaluate as rank_metrics
    from engine.families.reid.loaders import build_data

    if split not in SPLITS:
        raise EvaluationRefused(f"split {split!r}: reid models evaluate on {', '.join(SPLITS)} (query vs gallery)")
    net, config = _model(model)
    device = "cpu" if ctx.device == "mps" else ctx.device
    if config.cpu_threads:
        torch.set_num_threads(config.cpu_threads)
    net = net.to(device)
    ctx.progress(0, 2, "features")
    try:
        data = build_data(Path(dataset.root), dataset.samples, config, cuda=device.startswith("cuda"))
    except ValueError as exc:
        raise EvaluationRefused(f"dataset {dataset.name!r}: {exc}") from None
    loaders = data.test_loader["market1501"]
    query = extract(net, loaders["query"], device, ctx.should_stop)
    ctx.progress(1, 2, "features")
    gallery = extract(net, loaders["gallery"], device, ctx.should_stop)
    check_stop(ctx)
    rerank = bool(options.get("rerank", config.rerank))
    distmat = distances(query.features, gallery.features, metric=config.dist_metric,
                        normalize=config.normalize_feature, rerank=rerank)
    metrics = {f"{split}/{k}": v for k, v in rank_metrics(query, gallery, use_metric_cuhk03=config.use_metric_cuhk03,
                                                          distmat=distmat).items()}
    metrics[f"{split}/query_images"] = float(len(query.pids))
    metrics[f"{split}/gallery_images"] = float(len(gallery.pids))
    ctx.progress(2, 2, "evaluate")
    files = [_plot(Path(ctx.out_dir) / PLOT_FILE, metrics, split)]
    if int(options.get("visrank", 0)) > 0:  # torchreid-style ranked lists: query, then its top-k, framed by match
        files += save_ranked_lists(distmat, data.splits.query, data.splits.gallery, data.root,
                                   Path(ctx.out_dir) / "visrank", topk=config.visrank_topk,
                                   queries=int(options["visrank"]), width=config.width, height=config.height)
    return EvalResult(metrics=metrics, artifacts=files)
