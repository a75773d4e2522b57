"""The ``reid`` trainer: torchreid's softmax or triplet engine on a ``market1501`` dataset,
bridged to a RunContext.

torchreid's ``Engine.train`` runs each epoch (its transfer-learning freeze, its loss and
optimizer step in ``forward_backward``, its scheduler step); the epoch loop around it is
Trainyard's so that evaluation, checkpoints and resume follow the RunContext rather than
torchreid's own ``run`` (which writes its own checkpoint format and TensorBoard files).
Per batch: progress and cancel. Per epoch (step = epoch index): train losses, accuracy and lr;
every ``eval_freq`` epochs and at the end: rank-1/5/10/20 and mAP. Checkpoints, the RNG, resume
and which model is registered are ``engine.lifecycle``'s: ``last.pt`` every epoch, ``best.pt``
when rank-1 (the family's ranking headline) improves, the best one registered unless
``select_model: last``. Early stopping (``patience`` evaluations without ``early_stop_metric``
gaining more than ``min_delta``) is ``engine.lifecycle.EarlyStopping``, counted per evaluation;
``visrank`` writes torchreid's ranked-list images under ``visrank/epoch_NNN/`` at each evaluation.
``extra_datasets`` (resolved by the worker, ``ctx.extra_datasets``) add their train identities,
kept apart per dataset; evaluation stays on the run's own dataset.
"""
from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.checkpoints import save_checkpoint
from engine.core import DatasetRef, FitResult, ModelArtifact, RunContext, Trainer, check_stop
from engine.devices import DevicePlan, plan_devices, wrap_data_parallel
from engine.families.reid import FAMILY
from engine.families.reid.config import TORCH_ONLY_OPTIMIZERS, ReidConfig
from engine.families.reid.evaluation import distances, evaluate, extract, save_ranked_lists
from engine.families.reid.library import quiet, torchreid
from engine.families.reid.loaders import ReidData, build_data, seed_everything
from engine.families.reid.weights import ARTIFACT_KIND, load_matching, transfer_state, user_state
from engine.lifecycle import BestLast, EarlyStopping, Lifecycle, resume_state

log = logging.getLogger("trainyard.reid")

__all__ = ["ReidTrainer", "build_model", "CHECKPOINT_KIND", "upgrade_checkpoint"]

CHECKPOINT_KIND = "trainyard-reid-checkpoint"
RANKING = FAMILY.headlines[0]  # rank-1: which epoch is best
VISRANK_FOLDER = "visrank"  # ranked-list images, one folder per evaluation (run files)


def _extra_datasets(config: ReidConfig, ctx: RunContext) -> tuple[DatasetRef, ...]:
    """The datasets ``extra_datasets`` names, as the worker resolved them (``ctx.extra_datasets``)."""
    extra = tuple(getattr(ctx, "extra_datasets", None) or ())
    if len(extra) != len(config.extra_datasets):
        raise ValueError(f"extra_datasets {list(config.extra_datasets)}: this run was handed {len(extra)} of them "
                         "(the worker resolves the dataset ids)")
    return extra


class _EarlyStop:
    """Early stopping on a val metric, counted in evaluations (``engine.lifecycle.EarlyStopping``):
    ``patience`` evaluations in a row without a gain above ``min_delta`` stop the run."""

    def __init__(self, config: ReidConfig) -> None:
        self.best = BestLast("max", config.min_delta)
        self.stopper = EarlyStopping(config.patience)

    def update(self, value: float | None) -> bool:
        return self.stopper.update(self.best.offer(value, 0))

    def state(self) -> dict[str, Any]:
        return {**self.best.state(), "bad": self.stopper.bad}

    def load(self, state: Mapping[str, Any]) -> None:
        self.best.load(state)
        self.stopper.bad = int(state.get("bad", 0))


def build_model(config: ReidConfig, num_classes: int) -> torch.nn.Module:
    """An OSNet from torchreid's model factory; never ``pretrained=True`` (that downloads)."""
    with quiet():
        return torchreid().models.build_model(name=config.model, num_classes=num_classes, loss=config.loss,
                                              pretrained=False, use_gpu=False)


def upgrade_checkpoint(state: Mapping[str, Any]) -> dict[str, Any]:
    """A checkpoint as ``engine.lifecycle`` lays it out. Those written before it named the step
    ``epoch`` and kept the best model's metrics inline (``best_metrics``); they still resume."""
    state = dict(state)
    if "step" in state:
        return state
    best = dict(state.get("best_metrics") or {})
    best_epoch = best.pop("best_epoch", None)
    state.update(step=int(state["epoch"]), metrics=best,
                 lifecycle={"best": best.get(RANKING.name),
                            "best_step": None if best_epoch is None else int(best_epoch)})
    return state


def _device(requested: str) -> str:
    if requested == "mps":  # torchreid's engine moves batches with .cuda() or not at all
        log.warning("torchreid's engine has no MPS path; training on the CPU")
        return "cpu"
    return requested


def placement(plan: DevicePlan) -> dict[str, Any]:
    """How a plan maps onto torchreid's engine: ``use_gpu`` (it moves batches with ``.cuda()``, to
    the current device, so ``current_device`` is set first), ``data_parallel`` (the
    ``DataParallel`` device ids across several GPUs, as torchreid's own scripts wrap the model)
    and ``autocast``, the device type the forward pass runs under ``torch.autocast`` on (``cuda``
    with ``amp`` on CUDA, else None; the dtype is ``_amp_dtype``'s: bfloat16 where the GPU has it,
    else float16 with a gradient scaler)."""
    return {"use_gpu": plan.cuda, "current_device": plan.indices[0] if plan.cuda else None,
            "data_parallel": plan.data_parallel_ids, "autocast": "cuda" if plan.cuda and plan.amp else None}


def _start_weights(model: torch.nn.Module, config: ReidConfig, ctx: RunContext) -> None:
    """Transfer from an earlier model version (verified by the worker), then a user's weights file."""
    if config.init_version:
        init = getattr(ctx, "init_weights", None)
        if init is None:
            raise ValueError(f"init_version {config.init_version}: this run was handed no verified "
                             "start weights (the worker resolves the model version)")
        state, source = transfer_state(init)
        if source.get("model") != config.model:
            raise ValueError(f"model version {config.init_version} is a {source.get('model')}; "
                             f"it cannot start a {config.model}")
        loaded, skipped = load_matching(model, state)
        log.info("transfer from model version %s: %d tensors loaded, new: %s", config.init_version,
                 len(loaded), ", ".join(skipped) or "none")
    if config.weights:
        loaded, skipped = load_matching(model, user_state(config.weights))
        log.info("weights %s: %d tensors loaded, %d left as built", config.weights, len(loaded), len(skipped))


def _optimisation(model: torch.nn.Module, config: ReidConfig) -> tuple[Any, Any]:
    """torchreid's optimizer and learning-rate scheduler for the config; ``adamw`` (not in
    torchreid 0.2.5) is torch's own AdamW, and a cosine schedule with ``eta_min`` or
    ``restart_epoch`` is torch's ``CosineAnnealingLR`` / ``CosineAnnealingWarmRestarts`` (torchreid
    builds the plain cosine only)."""
    tr = torchreid()
    if config.optimizer in TORCH_ONLY_OPTIMIZERS:
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=config.lr,
                                      weight_decay=config.weight_decay)
    else:
        optimizer = tr.optim.build_optimizer(model, optim=config.optimizer, lr=config.lr,
                                             weight_decay=config.weight_decay, momentum=config.momentum)
    if config.scheduler == "cosine" and config.restart_epoch:
        scheduler = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=config.restart_epoch,
                                                                         eta_min=config.eta_min)
    elif config.scheduler == "cosine" and config.eta_min:
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=float(config.epochs),
                                                               eta_min=config.eta_min)
    else:
        stepsize = list(config.milestones) if config.scheduler == "multi_step" else config.stepsize
        scheduler = tr.optim.build_lr_scheduler(optimizer, lr_scheduler=config.scheduler, stepsize=stepsize,
                                                gamma=config.gamma, max_epoch=config.epochs)
    return optimizer, scheduler


def _resume(life: Lifecycle, state: Mapping[str, Any], data: ReidData, model, optimizer, scheduler) -> int:
    """Load a checkpoint into the run; the epoch to continue from."""
    state = upgrade_checkpoint(state)
    if state.get("kind", CHECKPOINT_KIND) != CHECKPOINT_KIND:
        raise ValueError(f"the checkpoint is a {state['kind']!r}, not a reid training checkpoint")
    if list(state["train_pids"]) != data.splits.train_pids:
        raise ValueError("the dataset's train identities changed since this checkpoint; retry instead")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    return life.resumed(state)


def _package(path: Path, config: ReidConfig, dataset: DatasetRef, data: ReidData, weights: Mapping[str, Any],
             summary: dict[str, float], gallery) -> Path:
    """The registered artifact: the weights, what rebuilds the network, and the gallery's
    features so a query costs one forward pass."""
    return save_checkpoint(path, {
        "kind": ARTIFACT_KIND, "model": dict(weights), "config": config.model_dump(mode="json"),
        "num_classes": data.num_train_pids, "train_pids": data.splits.train_pids,
        "dataset": dataset.name, "dataset_id": dataset.id, "metrics": summary,
        "gallery": {"paths": [g[0] for g in data.splits.gallery], "features": gallery.features,
                    "pids": torch.from_numpy(gallery.pids.astype(np.int64)),
                    "camids": torch.from_numpy(gallery.camids.astype(np.int64))}})


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


def _amp_dtype(device_type: str) -> torch.dtype:
    """bfloat16 where the device has it (no loss scaling needed), else float16 with a GradScaler."""
    if device_type == "cuda" and not torch.cuda.is_bf16_supported():
        return torch.float16
    return torch.bfloat16


def _engine(config: ReidConfig, data: ReidData, model, optimizer, scheduler, bridge: _Bridge, cuda: bool,
            amp_device: str | None = None):
    """torchreid's engine for the loss, with ``forward_backward`` reporting to the bridge.

    ``k_tfm`` > 1 hands each batch as k augmented versions of every image (torchreid's dataset
    returns a list): they are stacked into one batch, identities repeated. ``amp`` on CUDA runs
    the forward pass and loss under ``torch.autocast`` (torchreid 0.2.5 has no mixed precision of
    its own), with a ``GradScaler`` when the autocast type is float16. ``amp_device`` is where
    autocast runs (the trainer passes ``cuda`` when ``amp`` is on and the run is on CUDA)."""
    engines = torchreid().engine
    metrics = torchreid().metrics
    base = engines.ImageTripletEngine if config.loss == "triplet" else engines.ImageSoftmaxEngine
    amp = amp_device is not None
    dtype = _amp_dtype(amp_device) if amp else None
    scaler = torch.amp.GradScaler(amp_device or "cuda", enabled=amp and dtype == torch.float16)

    class BridgedEngine(base):
        def parse_data_for_train(self, batch):
            imgs, pids = super().parse_data_for_train(batch)
            if isinstance(imgs, (list, tuple)):
                imgs, pids = torch.cat(list(imgs)), pids.repeat(len(imgs))
            return imgs, pids

        def forward_backward(self, batch):
            summary = self._amp_step(batch) if amp else super().forward_backward(batch)
            bridge.after_batch(summary)
            return summary

        def _amp_step(self, batch) -> dict[str, float]:
            imgs, pids = self.parse_data_for_train(batch)
            imgs, pids = imgs.to(amp_device), pids.to(amp_device)
            summary: dict[str, float] = {}
            with torch.autocast(amp_device, dtype=dtype):
                if config.loss == "triplet":
                    outputs, features = self.model(imgs)
                    loss = 0
                    if self.weight_t > 0:
                        loss_t = self.compute_loss(self.criterion_t, features.float(), pids)
                        loss = loss + self.weight_t * loss_t
                        summary["loss_t"] = loss_t.item()
                    if self.weight_x > 0:
                        loss_x = self.compute_loss(self.criterion_x, outputs.float(), pids)
                        loss = loss + self.weight_x * loss_x
                        summary["loss_x"] = loss_x.item()
                else:
                    outputs = self.model(imgs)
                    loss = self.compute_loss(self.criterion, outputs.float(), pids)
                    summary["loss"] = loss.item()
            self.optimizer.zero_grad()
            scaler.scale(loss).backward()
            scaler.step(self.optimizer)
            scaler.update()
            if config.loss != "triplet" or self.weight_x > 0:
                summary["acc"] = metrics.accuracy(outputs.float(), pids)[0].item()
            return summary

    kwargs: dict[str, Any] = {"scheduler": scheduler, "use_gpu": cuda, "label_smooth": config.label_smooth}
    if config.loss == "triplet":
        kwargs.update(margin=config.margin, weight_t=config.weight_t, weight_x=config.weight_x)
    engine = BridgedEngine(data, model, optimizer, **kwargs)
    engine.scaler = scaler
    return engine


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
        plan = plan_devices(_device(ctx.device), gpus=config.gpus, amp=config.amp)
        placed = placement(plan)
        device, cuda = plan.primary, plan.cuda
        if cuda:
            torch.cuda.set_device(placed["current_device"])
        if config.cpu_threads:
            torch.set_num_threads(config.cpu_threads)
        ctx.progress(0, 1, "prepare")
        seed_everything(config.seed)
        extra = _extra_datasets(config, ctx)
        data = build_data(Path(dataset.root), dataset.samples, config, cuda=cuda, extra=extra)
        log.info("dataset %s: %d train images of %d identities; %d query, %d gallery images", dataset.name,
                 len(data.splits.train), data.num_train_pids, len(data.splits.query), len(data.splits.gallery))
        for ref in extra:
            log.info("combined with dataset %s: its train identities join, kept apart as %s/PPPP", ref.name, ref.name)
        if config.amp and not cuda:
            log.info("amp: mixed precision runs on CUDA only; training in float32 on %s", device)

        resume = resume_state(ctx)
        model = build_model(config, data.num_train_pids)
        if resume is None:
            _start_weights(model, config, ctx)
        model = model.to(device)
        optimizer, scheduler = _optimisation(model, config)
        bridge = _Bridge(ctx, config.epochs)
        trained = wrap_data_parallel(model, plan)  # several GPUs: each batch split across them
        engine = _engine(config, data, trained, optimizer, scheduler, bridge, cuda, amp_device=placed["autocast"])
        life = Lifecycle(ctx, config.model_dump(mode="json"), CHECKPOINT_KIND, direction=RANKING.direction,
                         select=config.select_model)
        early = _EarlyStop(config)
        start = 0
        if resume is not None:
            start = _resume(life, resume, data, model, optimizer, scheduler)
            early.load(resume.get("early_stopping") or {})
            if resume.get("scaler"):
                engine.scaler.load_state_dict(resume["scaler"])
            log.info("resuming after epoch %d of %d", start, config.epochs)

        batches = len(data.train_loader)
        started = time.monotonic()
        epoch = start - 1
        for epoch in range(start, config.epochs):
            bridge.start(epoch, batches)
            engine.epoch, engine.max_epoch = epoch, config.epochs
            with quiet():
                engine.train(print_freq=batches, fixbase_epoch=config.fixbase_epoch, open_layers=config.open_layers)
            metrics = _train_metrics(config, bridge.means(), optimizer.param_groups[-1]["lr"])
            stop = False
            if (epoch + 1) % config.eval_freq == 0 or epoch + 1 == config.epochs:
                ctx.progress(0, 1, "evaluate")
                visrank = Path(ctx.out_dir) / VISRANK_FOLDER / f"epoch_{epoch + 1:03d}" if config.visrank else None
                metrics.update({f"val/{k}": v for k, v in
                                self.evaluate(model, data, config, device, ctx, visrank_dir=visrank).items()})
                stop = early.update(metrics[f"val/{config.early_stop_metric}"])
            ctx.log(metrics, step=epoch, epoch=epoch)
            life.epoch_end({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                            "scheduler": scheduler.state_dict(), "train_pids": data.splits.train_pids,
                            "scaler": engine.scaler.state_dict() if engine.scaler.is_enabled() else {},
                            "early_stopping": early.state(),
                            "metrics": {k: v for k, v in metrics.items() if k.startswith("val/")}},
                           step=epoch, monitored=metrics.get(RANKING.name))
            if stop:
                log.info("early stopping after epoch %d: val/%s has not improved by more than %g for %d "
                         "evaluation(s) (best %.4f)", epoch + 1, config.early_stop_metric, config.min_delta,
                         config.patience, early.best.best)
                break
        check_stop(ctx)

        chosen = upgrade_checkpoint(life.model_state())
        if not chosen["metrics"]:
            raise ValueError("the run was never evaluated; nothing to register")
        model.load_state_dict(chosen["model"])
        ctx.progress(0, 1, "gallery")
        gallery = extract(model, data.test_loader["market1501"]["gallery"], device)
        summary = dict(chosen["metrics"]) | {
            "best_epoch": float(life.policy.best_step if life.policy.best_step is not None else chosen["step"]),
            "epochs": float(epoch + 1), "train/seconds": time.monotonic() - started,
            "data/train_identities": float(data.num_train_pids), "data/train_images": float(len(data.splits.train)),
            "data/gallery_identities": float(len({p for p in gallery.pids if p > 0}))}
        artifact = _package(Path(ctx.out_dir) / "model.pt", config, dataset, data, chosen["model"], summary, gallery)
        return FitResult(metrics=summary, model=ModelArtifact(path=artifact, scope=dataset.name, metrics=summary))

    @staticmethod
    def evaluate(model: torch.nn.Module, data: ReidData, config: ReidConfig, device: str,
                 ctx: RunContext | None = None, *, visrank_dir: Path | None = None) -> dict[str, float]:
        """rank-1/5/10/20 and mAP of ``model`` on the dataset's query and gallery (re-ranked and
        CUHK03-style as the config says); with ``visrank_dir``, ranked-list images there too."""
        stop = ctx.should_stop if ctx is not None else None
        loaders = data.test_loader["market1501"]
        query = extract(model, loaders["query"], device, stop)
        gallery = extract(model, loaders["gallery"], device, stop)
        if ctx is not None:
            check_stop(ctx)
        distmat = distances(query.features, gallery.features, metric=config.dist_metric,
                            normalize=config.normalize_feature, rerank=config.rerank)
        if visrank_dir is not None:
            saved = save_ranked_lists(distmat, data.splits.query, data.splits.gallery, data.root, visrank_dir,
                                      topk=config.visrank_topk, queries=config.visrank_queries,
                                      width=config.width, height=config.height)
            log.info("visrank: %d ranked list(s) (top-%d) in %s", len(saved), config.visrank_topk, visrank_dir)
        return evaluate(query, gallery, use_metric_cuhk03=config.use_metric_cuhk03, distmat=distmat)
