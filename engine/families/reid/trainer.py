"""The ``reid`` trainer: torchreid's softmax or triplet engine on a ``market1501`` dataset,
bridged to a RunContext.

torchreid's ``Engine.train`` runs each epoch (its transfer-learning freeze, its loss and
optimizer step in ``forward_backward``, its scheduler step); the epoch loop around it is
Trainyard's so that evaluation, checkpoints and resume follow the RunContext rather than
torchreid's own ``run`` (which writes its own checkpoint format and TensorBoard files).
Per batch: progress and cancel. Per epoch (step = epoch index): train losses, accuracy and lr;
every ``eval_freq`` epochs and at the end: rank-1/5/10/20 and mAP; ``last.pt`` every epoch and
``best.pt`` when mAP improves.
"""
from __future__ import annotations

import logging
import random
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.checkpoints import load_checkpoint, save_checkpoint
from engine.core import DatasetRef, FitResult, ModelArtifact, RunContext, Trainer, check_stop
from engine.families.reid.config import ReidConfig
from engine.families.reid.evaluation import evaluate, extract
from engine.families.reid.library import quiet, torchreid
from engine.families.reid.loaders import ReidData, build_data, seed_everything
from engine.families.reid.weights import ARTIFACT_KIND, load_matching, model_version_state, user_state

log = logging.getLogger("trainyard.reid")

__all__ = ["ReidTrainer", "build_model", "dataset_samples"]


def build_model(config: ReidConfig, num_classes: int) -> torch.nn.Module:
    """An OSNet from torchreid's model factory; never ``pretrained=True`` (that downloads)."""
    with quiet():
        return torchreid().models.build_model(name=config.model, num_classes=num_classes, loss=config.loss,
                                              pretrained=False, use_gpu=False)


def dataset_samples(dataset_id: int) -> list[Any]:
    from db import queries
    from db.session import session_scope

    with session_scope() as s:
        return queries.dataset_samples(session=s, dataset_id=dataset_id)


def _rng_state() -> dict[str, Any]:
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {"torch": torch.get_rng_state(), "python": random.getstate(),
             "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                       "has_gauss": int(has_gauss), "gauss": float(gauss)}}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class _Bridge:
    """Hooks into torchreid's ``forward_backward``: epoch loss sums, progress, cancel."""

    def __init__(self, ctx: RunContext, epochs: int) -> None:
        self.ctx, self.epochs = ctx, epochs
        self.epoch, self.batch, self.per_epoch = 0, 0, 1
        self.sums: dict[str, float] = defaultdict(float)

    def start(self, epoch: int, batches: int) -> None:
        self.epoch, self.batch, self.per_epoch = epoch, 0, batches
        self.sums.clear()
        check_stop(self.ctx)

    def after_batch(self, summary: dict[str, float]) -> None:
        self.batch += 1
        for k, v in summary.items():
            self.sums[k] += float(v)
        self.ctx.progress(self.epoch * self.per_epoch + self.batch, self.epochs * self.per_epoch, "train")
        check_stop(self.ctx)

    def means(self) -> dict[str, float]:
        return {k: v / max(self.batch, 1) for k, v in self.sums.items()}


def _engine(config: ReidConfig, data: ReidData, model, optimizer, scheduler, bridge: _Bridge, cuda: bool):
    """torchreid's engine for the loss, with ``forward_backward`` reporting to the bridge."""
    engines = torchreid().engine
    base = engines.ImageTripletEngine if config.loss == "triplet" else engines.ImageSoftmaxEngine

    class BridgedEngine(base):
        def forward_backward(self, batch):
            summary = super().forward_backward(batch)
            bridge.after_batch(summary)
            return summary

    kwargs: dict[str, Any] = {"scheduler": scheduler, "use_gpu": cuda, "label_smooth": config.label_smooth}
    if config.loss == "triplet":
        kwargs.update(margin=config.margin, weight_t=config.weight_t, weight_x=config.weight_x)
    return BridgedEngine(data, model, optimizer, **kwargs)


def _train_metrics(config: ReidConfig, means: dict[str, float], lr: float) -> dict[str, float]:
    out = {"lr": lr}
    if "acc" in means:
        out["train/acc"] = means["acc"] / 100.0  # torchreid reports percent
    if config.loss == "softmax":
        out["train/loss"] = means.get("loss", float("nan"))
        return out
    total = 0.0
    if "loss_t" in means:
        out["train/loss_triplet"] = means["loss_t"]
        total += config.weight_t * means["loss_t"]
    if "loss_x" in means:
        out["train/loss_softmax"] = means["loss_x"]
        total += config.weight_x * means["loss_x"]
    out["train/loss"] = total
    return out


class ReidTrainer(Trainer):
    family = "reid"

    def fit(self, config: ReidConfig, dataset: DatasetRef | None, ctx: RunContext) -> FitResult:
        self.require_dataset(dataset)
        device = ctx.device
        if device == "mps":  # torchreid's engine moves batches with .cuda() or not at all
            log.warning("torchreid's engine has no MPS path; training on the CPU")
            device = "cpu"
        cuda = device.startswith("cuda")
        if config.cpu_threads:
            torch.set_num_threads(config.cpu_threads)
        ctx.progress(0, 1, "prepare")
        seed_everything(config.seed)
        data = build_data(Path(dataset.root), dataset_samples(dataset.id), config, cuda=cuda)
        log.info("dataset %s: %d train images of %d identities; %d query, %d gallery images", dataset.name,
                 len(data.splits.train), data.num_train_pids, len(data.splits.query), len(data.splits.gallery))

        model = build_model(config, data.num_train_pids)
        if config.init_model_version:
            state, source = model_version_state(config.init_model_version)
            if source.get("model") != config.model:
                raise ValueError(f"model version {config.init_model_version} is a {source.get('model')}; "
                                 f"it cannot start a {config.model}")
            loaded, skipped = load_matching(model, state)
            log.info("transfer from model version %s: %d tensors loaded, new: %s", config.init_model_version,
                     len(loaded), ", ".join(skipped) or "none")
        if config.weights:
            loaded, skipped = load_matching(model, user_state(config.weights))
            log.info("weights %s: %d tensors loaded, %d left as built", config.weights, len(loaded), len(skipped))
        model = model.to(device)
        tr = torchreid()
        optimizer = tr.optim.build_optimizer(model, optim=config.optimizer, lr=config.lr,
                                             weight_decay=config.weight_decay, momentum=config.momentum)
        stepsize = list(config.milestones) if config.scheduler == "multi_step" else config.stepsize
        scheduler = tr.optim.build_lr_scheduler(optimizer, lr_scheduler=config.scheduler, stepsize=stepsize,
                                                gamma=config.gamma, max_epoch=config.epochs)
        bridge = _Bridge(ctx, config.epochs)
        engine = _engine(config, data, model, optimizer, scheduler, bridge, cuda)

        start, best_map, best_state, best_metrics = 0, -1.0, None, {}
        if ctx.resume_from:
            state = load_checkpoint(Path(ctx.resume_from), map_location=device)
            if list(state["train_pids"]) != data.splits.train_pids:
                raise ValueError("the dataset's train identities changed since this checkpoint; retry instead")
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            _set_rng_state(state["rng"])
            start, best_map = state["epoch"] + 1, state["best_map"]
            best_state, best_metrics = state["best_model"], dict(state["best_metrics"])
            log.info("resuming after epoch %d of %d", start, config.epochs)

        ckpt_dir = Path(ctx.out_dir) / "checkpoints"
        batches = len(data.train_loader)
        started = time.monotonic()
        epoch = start - 1
        for epoch in range(start, config.epochs):
            bridge.start(epoch, batches)
            engine.epoch, engine.max_epoch = epoch, config.epochs
            with quiet():
                engine.train(print_freq=batches, fixbase_epoch=config.fixbase_epoch, open_layers=config.open_layers)
            lr = optimizer.param_groups[-1]["lr"]
            metrics = _train_metrics(config, bridge.means(), lr)
            evaluated = (epoch + 1) % config.eval_freq == 0 or epoch + 1 == config.epochs
            if evaluated:
                ctx.progress(0, 1, "evaluate")
                scores = self.evaluate(model, data, config, device, ctx)
                metrics.update({f"val/{k}": v for k, v in scores.items()})
            ctx.log(metrics, step=epoch, epoch=epoch)
            improved = evaluated and metrics["val/mAP"] > best_map
            if improved:
                best_map = metrics["val/mAP"]
                best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
                best_metrics = {k: v for k, v in metrics.items() if k.startswith("val/")} | {"best_epoch": float(epoch)}
            state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                     "scheduler": scheduler.state_dict(), "epoch": epoch, "rng": _rng_state(),
                     "best_map": best_map, "best_model": best_state, "best_metrics": best_metrics,
                     "train_pids": data.splits.train_pids, "config": config.model_dump(mode="json")}
            monitored = metrics.get("val/mAP")
            if improved:
                ctx.checkpoint(save_checkpoint(ckpt_dir / "best.pt", state), step=epoch, monitored=monitored, best=True)
            ctx.checkpoint(save_checkpoint(ckpt_dir / "last.pt", state), step=epoch, monitored=monitored, best=False)
        check_stop(ctx)
        if best_state is None:
            raise ValueError("the run was never evaluated; nothing to register")

        model.load_state_dict(best_state)
        ctx.progress(0, 1, "gallery")
        gallery = extract(model, data.test_loader["market1501"]["gallery"], device)
        summary = dict(best_metrics) | {"epochs": float(epoch + 1), "train/seconds": time.monotonic() - started,
                                        "data/train_identities": float(data.num_train_pids),
                                        "data/gallery_identities": float(len({p for p in gallery.pids if p > 0}))}
        artifact = Path(ctx.out_dir) / "model.pt"
        save_checkpoint(artifact, {
            "kind": ARTIFACT_KIND, "model": best_state, "config": config.model_dump(mode="json"),
            "num_classes": data.num_train_pids, "train_pids": data.splits.train_pids,
            "dataset": dataset.name, "dataset_id": dataset.id, "metrics": summary,
            "gallery": {"paths": [g[0] for g in data.splits.gallery], "features": gallery.features,
                        "pids": torch.from_numpy(gallery.pids.astype(np.int64)),
                        "camids": torch.from_numpy(gallery.camids.astype(np.int64))}})
        return FitResult(metrics=summary, model=ModelArtifact(path=artifact, scope=dataset.name, metrics=summary))

    @staticmethod
    def evaluate(model: torch.nn.Module, data: ReidData, config: ReidConfig, device: str,
                 ctx: RunContext | None = None) -> dict[str, float]:
        """rank-1/5/10/20 and mAP of ``model`` on the dataset's query and gallery."""
        stop = ctx.should_stop if ctx is not None else None
        loaders = data.test_loader["market1501"]
        query = extract(model, loaders["query"], device, stop)
        gallery = extract(model, loaders["gallery"], device, stop)
        if ctx is not None:
            check_stop(ctx)
        return evaluate(query, gallery, metric=config.dist_metric, normalize=config.normalize_feature)
