"""Training of one age group's autoencoder: embed (once), split, fit, threshold, evaluate.

The planted or expert-labelled anomalies of the group are never trained on: they are scored
after training against the held-out normal drawings (validation and test), which gives AUROC,
precision and recall at the threshold.
"""
from __future__ import annotations

import time

import numpy as np
import torch

from db import queries
from db.session import session_scope
from engine.checkpoints import load_checkpoint, save_checkpoint
from engine.core import DatasetRef, FitResult, ModelArtifact, RunCancelled, RunContext, Trainer, check_stop
from engine.families.anomaly.config import AGE_MAX, AnomalyConfig
from engine.families.anomaly.data import is_anomalous
from engine.families.anomaly.embeddings import ensure_embeddings, load_vectors
from engine.families.anomaly.metrics import auroc, precision_recall
from engine.families.anomaly.model import Autoencoder
from engine.families.anomaly.splits import stratified_split

__all__ = ["AnomalyTrainer", "build_model", "ARTIFACT_KIND"]

ARTIFACT_KIND = "trainyard.anomaly.autoencoder/1"
AE_CPU_THREADS = 1
MIN_TRAINABLE = 3  # one to train, one to validate, one more so batch norm sees a pair
CHECKPOINT_EVERY_S = 10.0  # the newest epoch goes to disk at most this often (and at the end, and on cancel)


def build_model(config: AnomalyConfig, input_dim: int) -> Autoencoder:
    return Autoencoder(input_dim, config.hidden_dims, config.latent_dim, activation=config.activation,
                       batch_norm=config.batch_norm, dropout=config.dropout)


def _optimizer(config: AnomalyConfig, params) -> torch.optim.Optimizer:
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    cls = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    return cls(params, lr=config.lr, betas=tuple(config.betas), weight_decay=config.weight_decay)


def _scheduler(config: AnomalyConfig, opt: torch.optim.Optimizer):
    if config.scheduler == "step":
        return torch.optim.lr_scheduler.StepLR(opt, step_size=config.step_size, gamma=config.gamma)
    if config.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=config.epochs)
    if config.scheduler == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=config.gamma,
                                                          patience=config.plateau_patience)
    return None


def _copied(value):
    """Tensors cloned, containers rebuilt: a snapshot of an optimizer's state for a fraction of
    ``copy.deepcopy``'s cost (it runs every epoch)."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, dict):
        return {k: _copied(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copied(v) for v in value]
    return value


class _Saver:
    """Writes the newest epoch's ``last.pt`` (and ``best.pt`` when an epoch improved) at most
    every ``CHECKPOINT_EVERY_S`` seconds, at the end and when the run is cancelled: an epoch of a
    small autoencoder takes milliseconds, and two files per epoch would double the run."""

    def __init__(self, ctx: RunContext, folder) -> None:
        self.ctx, self.folder = ctx, folder
        self._last: tuple | None = None  # (state, epoch, monitored) not yet on disk
        self._best: tuple | None = None
        self._written = time.monotonic()

    def offer(self, state: dict, *, epoch: int, monitored: float, best: bool) -> None:
        self._last = (state, epoch, monitored)
        if best:
            self._best = (state, epoch, monitored)
        if time.monotonic() - self._written >= CHECKPOINT_EVERY_S:
            self.write()

    def write(self) -> None:
        for name, pending, best in (("best.pt", self._best, True), ("last.pt", self._last, False)):
            if pending is not None:
                state, epoch, monitored = pending
                self.ctx.checkpoint(save_checkpoint(self.folder / name, state), step=epoch, monitored=monitored,
                                    best=best)
        self._best = self._last = None
        self._written = time.monotonic()

    def check_stop(self) -> None:
        """``check_stop``, writing the last whole epoch first so a resume continues right after it."""
        try:
            check_stop(self.ctx)
        except RunCancelled:
            self.write()
            raise


def _group_samples(dataset: DatasetRef, config: AnomalyConfig) -> list[tuple[int, float, str | None]]:
    age = config.age_range
    with session_scope() as s:
        rows = queries.samples_in_age_range(session=s, dataset_id=dataset.id, lo=age.lo, hi=age.hi,
                                            include_hi=age.hi >= AGE_MAX)
        return [(r.id, float(r.group_value), r.label) for r in rows]


class AnomalyTrainer(Trainer):
    family = "anomaly"

    def fit(self, config: AnomalyConfig, dataset: DatasetRef | None, ctx: RunContext) -> FitResult:
        self.require_dataset(dataset)
        group = config.age_group
        rows = _group_samples(dataset, config)
        normal = [r for r in rows if not is_anomalous(r[2])]
        anomalous = [r for r in rows if is_anomalous(r[2])]
        if len(normal) < MIN_TRAINABLE:
            raise ValueError(f"age group {group} of dataset {dataset.name!r} has {len(normal)} normal drawing(s); "
                             f"at least {MIN_TRAINABLE} are needed to train and validate")

        # ---- prepare: embeddings, computed only where missing
        ctx.progress(0, len(rows), phase="embed")
        embedded = ensure_embeddings(dataset.id, config.backbone, sample_ids=[r[0] for r in rows],
                                     batch_size=config.embed_batch_size, device=ctx.device,
                                     progress=lambda d, t: ctx.progress(d, t, phase="embed"),
                                     should_stop=ctx.should_stop)
        check_stop(ctx)
        x_normal = load_vectors([r[0] for r in normal], config.backbone)
        x_anom = load_vectors([r[0] for r in anomalous], config.backbone) if anomalous else None
        tr, va, te = stratified_split([r[1] for r in normal],
                                      (config.train_split, config.val_split, config.test_split),
                                      seed=config.seed, stratify=config.stratify_by_age)
        mean = x_normal[tr].mean(axis=0) if config.standardize else np.zeros(x_normal.shape[1], np.float32)
        std = x_normal[tr].std(axis=0) + 1e-6 if config.standardize else np.ones(x_normal.shape[1], np.float32)

        device = torch.device(ctx.device)
        if device.type == "cpu":
            # a few-hundred-wide MLP gains nothing from intra-op threads, and their spin-waits make
            # it many times slower on a busy machine or in a forked RQ work horse
            torch.set_num_threads(AE_CPU_THREADS)

        def tensor(a: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(((a - mean) / std).astype(np.float32)).to(device)

        x_train, x_val = tensor(x_normal[tr]), tensor(x_normal[va])
        x_test = tensor(x_normal[te]) if te else None

        # ---- model and optimisation
        torch.manual_seed(config.seed)
        model = build_model(config, x_normal.shape[1]).to(device)
        opt = _optimizer(config, model.parameters())
        sched = _scheduler(config, opt)
        amp = config.mixed_precision and device.type == "cuda"
        scaler = torch.amp.GradScaler("cuda", enabled=amp)
        start_epoch, best_val, bad_epochs, best_state = 0, float("inf"), 0, None
        if ctx.resume_from:
            state = load_checkpoint(ctx.resume_from, map_location=str(device))
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            if sched is not None and state.get("scheduler"):
                sched.load_state_dict(state["scheduler"])
            if state.get("scaler"):
                scaler.load_state_dict(state["scaler"])
            start_epoch, best_val, bad_epochs = state["epoch"] + 1, state["best_val"], state["bad_epochs"]
            best_state = state["best_model"]

        n = x_train.shape[0]
        bs = min(config.batch_size, n)
        n_batches = -(-n // bs)
        if config.batch_norm and n_batches > 1 and n % bs == 1:
            n_batches -= 1  # batch norm cannot train on a batch of one: the last item joins the batch before
        total = config.epochs * n_batches
        gen = torch.Generator().manual_seed(config.seed)
        ckpt_dir = ctx.out_dir / "checkpoints"
        saver = _Saver(ctx, ckpt_dir)
        epoch = start_epoch - 1
        started = time.monotonic()
        for epoch in range(start_epoch, config.epochs):
            model.train()
            perm = torch.randperm(n, generator=gen).to(device)
            seen, loss_sum = 0, 0.0
            for b in range(n_batches):
                saver.check_stop()
                xb = x_train[perm[b * bs:(b + 1) * bs] if b < n_batches - 1 else perm[b * bs:]]
                with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=amp):
                    loss = torch.nn.functional.mse_loss(model(xb), xb)
                opt.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                if config.grad_clip:
                    scaler.unscale_(opt)
                    torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
                scaler.step(opt)
                scaler.update()
                seen += xb.shape[0]
                loss_sum += loss.item() * xb.shape[0]
                ctx.progress(epoch * n_batches + b + 1, total, phase="train")
            model.eval()
            val_loss = model.errors(x_val).mean().item()
            lr = opt.param_groups[0]["lr"]
            ctx.log({"train/loss": loss_sum / max(seen, 1), "val/loss": val_loss, "lr": lr}, step=epoch, epoch=epoch)
            if sched is not None:
                sched.step(val_loss) if config.scheduler == "plateau" else sched.step()
            improved = val_loss < best_val - config.min_delta
            if improved:
                best_val, bad_epochs = val_loss, 0
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                bad_epochs += 1
            # copies, not the live weights and moments: the state may be written epochs later
            state = {"model": {k: v.detach().clone() for k, v in model.state_dict().items()},
                     "optimizer": _copied(opt.state_dict()),
                     "scheduler": sched.state_dict() if sched is not None else None,
                     "scaler": scaler.state_dict() if amp else None, "epoch": epoch, "best_val": best_val,
                     "bad_epochs": bad_epochs, "best_model": best_state, "config": config.model_dump(mode="json"),
                     "input_dim": int(x_normal.shape[1]), "mean": torch.from_numpy(mean), "std": torch.from_numpy(std)}
            saver.offer(state, epoch=epoch, monitored=val_loss, best=improved)
            if config.patience and bad_epochs >= config.patience:
                break
        saver.write()
        ctx.progress(total, total, phase="train")

        # ---- threshold and evaluation with the best weights
        if best_state is None:  # no epoch improved on infinity: the loss was not finite
            raise ValueError("validation loss was never finite; lower the learning rate or check the data")
        model.load_state_dict(best_state)
        model.eval()
        val_err = model.errors(x_val).float().cpu().numpy()
        threshold = float(np.percentile(val_err, config.threshold_percentile))
        test_err = model.errors(x_test).float().cpu().numpy() if x_test is not None else np.zeros(0)
        anom_err = model.errors(tensor(x_anom)).float().cpu().numpy() if x_anom is not None else np.zeros(0)
        held_out = np.concatenate([val_err, test_err])
        metrics: dict[str, float] = {
            "val/loss": float(val_err.mean()), "threshold": threshold,
            "data/train": float(len(tr)), "data/val": float(len(va)), "data/test": float(len(te)),
            "data/anomalous": float(len(anomalous)), "data/embedded_now": float(embedded),
            "epochs": float(epoch + 1), "train/seconds": time.monotonic() - started,
        }
        if len(test_err):
            metrics["test/loss"] = float(test_err.mean())
        if len(anom_err):
            metrics["val/auroc"] = auroc(held_out, anom_err)
            precision, recall = precision_recall(held_out, anom_err, threshold)
            metrics["val/precision"], metrics["val/recall"] = precision, recall
        artifact = ctx.out_dir / "model.pt"
        save_checkpoint(artifact, {
            "kind": ARTIFACT_KIND, "model": best_state, "config": config.model_dump(mode="json"),
            "input_dim": int(x_normal.shape[1]), "mean": torch.from_numpy(mean), "std": torch.from_numpy(std),
            "threshold": threshold, "val_errors": torch.from_numpy(np.sort(val_err)),
            "backbone": config.backbone, "age_group": group, "metrics": metrics})
        return FitResult(metrics=metrics, model=ModelArtifact(path=artifact, scope=group, metrics=metrics,
                                                              threshold=threshold))
