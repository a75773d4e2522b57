"""Training of one age group's autoencoder: embed (once), split, fit, threshold, evaluate.

The planted or expert-labelled anomalies of the group are never trained on: they are scored
after training against the held-out normal drawings (validation and test), which gives AUROC,
precision and recall at the threshold.

The samples come from the ``DatasetRef`` (``samples_in_group``), the vectors from the context's
embedding store (``ctx.stores["embeddings"]``; a bare context gets an in-memory one), and the
run's life (resume point, RNG, ``last.pt``/``best.pt``, early stopping, which model registers:
``select_model``) from ``engine.lifecycle``. What stays here is the family's own: the data, the
model and its optimisation step.

Why a plain loop and not Lightning (as ``transition`` is): measured on this project's CPU, the
bench's autoencoder (default widths 256-128-32, 49-wide vectors, ~130 training vectors, batch 32,
one thread), best of 5, a minimal ``L.Trainer`` (no logger, no checkpointing, no progress bar,
no sanity validation) took 1.68 s for 60 epochs against 1.16 s for the plain loop (1.45x), and
5.69 s against 4.35 s for 300 epochs (1.31x); even with pre-made batches and no shuffling,
1.22 s against 1.02 s (1.19x). That is about 1-1.7 ms of hooks per step, against ~3.5 ms a step
costs: the autoencoder bench (whole run within 1.05x of a plain loop) could not hold. Mixed
precision on CUDA and early stopping are here already; checkpoints go through the lifecycle.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from engine.checkpoints import load_verified, save_checkpoint
from engine.core import DatasetRef, FitResult, ModelArtifact, RunCancelled, RunContext, Trainer, check_stop
from engine.devices import DevicePlan, plan_devices, wrap_data_parallel
from engine.families.anomaly import FAMILY
from engine.families.anomaly.config import AnomalyConfig
from engine.families.anomaly.data import is_anomalous
from engine.families.anomaly.embeddings import ensure_embeddings, load_vectors
from engine.families.anomaly.metrics import auroc, precision_recall
from engine.families.anomaly.model import Autoencoder
from engine.families.anomaly.plots import write_error_plots, write_training_curves
from engine.families.anomaly.splits import stratified_split, train_subset
from engine.families.anomaly.sufficiency import samples_in_group
from engine.lifecycle import Lifecycle, resume_state
from engine.stores import EMBEDDINGS, EmbeddingStore, MemoryEmbeddingStore

__all__ = ["AnomalyTrainer", "build_model", "ARTIFACT_KIND", "CHECKPOINT_KIND", "embedding_store"]

log = logging.getLogger(__name__)

ARTIFACT_KIND = "trainyard.anomaly.autoencoder/1"
CHECKPOINT_KIND = "trainyard.anomaly.checkpoint/1"
MIN_TRAINABLE = 3  # one to train, one to validate, one more so batch norm sees a pair
CHECKPOINT_EVERY_S = 10.0  # the newest epoch goes to disk at most this often (and at the end, and on cancel):
# an epoch of a small autoencoder takes milliseconds, and two files per epoch would double the run


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
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=config.T_max or config.epochs)
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


def embedding_store(ctx: RunContext) -> EmbeddingStore:
    """The context's embedding cache, or a fresh in-memory one for a bare context."""
    store = (getattr(ctx, "stores", None) or {}).get(EMBEDDINGS)
    return store if store is not None else MemoryEmbeddingStore()


@dataclass
class _Data:
    """One age group's vectors as tensors on the training device, standardised with the
    training split's statistics; ``anomalous`` are never trained on."""
    train: torch.Tensor
    val: torch.Tensor
    test: torch.Tensor | None
    anomalous: torch.Tensor | None
    mean: np.ndarray
    std: np.ndarray
    counts: dict[str, float]

    @property
    def input_dim(self) -> int:
        return int(self.train.shape[1])


def _prepare(config: AnomalyConfig, dataset: DatasetRef, ctx: RunContext, device: torch.device) -> _Data:
    """The group's samples, embedded where the store has no vector yet, split and standardised."""
    rows = samples_in_group(dataset.samples, config.age_range)
    normal = [r for r in rows if not is_anomalous(r.label)]
    anomalous = [r for r in rows if is_anomalous(r.label)]
    if len(normal) < MIN_TRAINABLE:
        raise ValueError(f"age group {config.age_group} of dataset {dataset.name!r} has {len(normal)} normal "
                         f"drawing(s); at least {MIN_TRAINABLE} are needed to train and validate")
    store = embedding_store(ctx)
    ctx.progress(0, len(rows), phase="embed")
    embedded = ensure_embeddings(store, config.backbone, rows, root=dataset.root,
                                 batch_size=config.embed_batch_size, device=str(device),
                                 progress=lambda d, t: ctx.progress(d, t, phase="embed"),
                                 should_stop=ctx.should_stop, num_workers=config.num_workers,
                                 pin_memory=config.pin_memory)
    check_stop(ctx)
    x_normal = load_vectors(store, config.backbone, [r.id for r in normal])
    x_anom = load_vectors(store, config.backbone, [r.id for r in anomalous]) if anomalous else None
    tr, va, te = stratified_split([float(r.group_value) for r in normal],
                                  (config.train_split, config.val_split, config.test_split),
                                  seed=config.seed, stratify=config.stratify_by_age,
                                  stratum_years=config.age_group_size)
    tr = train_subset(tr, [float(r.group_value) for r in normal], [r.path for r in normal], config.data_fraction,
                      config.seed)
    dim = x_normal.shape[1]
    mean = x_normal[tr].mean(axis=0) if config.standardize else np.zeros(dim, np.float32)
    std = x_normal[tr].std(axis=0) + 1e-6 if config.standardize else np.ones(dim, np.float32)

    def tensor(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(((a - mean) / std).astype(np.float32)).to(device)

    counts = {"data/train": float(len(tr)), "data/val": float(len(va)), "data/test": float(len(te)),
              "data/anomalous": float(len(anomalous)), "data/embedded_now": float(embedded)}
    return _Data(tensor(x_normal[tr]), tensor(x_normal[va]), tensor(x_normal[te]) if te else None,
                 tensor(x_anom) if x_anom is not None else None, mean, std, counts)


def _batches(n: int, config: AnomalyConfig) -> tuple[int, int]:
    """Batch size and batches per epoch; batch norm cannot train on a batch of one, so a last
    batch of one joins the batch before."""
    bs = min(config.batch_size, n)
    n_batches = -(-n // bs)
    if config.batch_norm and n_batches > 1 and n % bs == 1:
        n_batches -= 1
    return bs, n_batches


def _resumable(state: dict) -> dict:
    """A checkpoint of this family from before ``engine.lifecycle`` (``epoch``, ``best_val``,
    ``bad_epochs``; no RNG) in the lifecycle's layout, so a run stopped before it still resumes."""
    if "step" in state or "epoch" not in state:
        return state
    bad, best = int(state.get("bad_epochs", 0)), state.get("best_val")
    finite = best is not None and math.isfinite(best)
    return {**state, "step": state["epoch"], "lifecycle": {"best": best if finite else None, "bad": bad,
                                                           "best_step": state["epoch"] - bad if finite else None}}


class _Step:
    """The optimisation of one run: model, optimizer, scheduler, the AMP scaler and the batch
    order; ``epoch`` trains one epoch, ``state`` / ``load`` are what a checkpoint holds of it."""

    def __init__(self, config: AnomalyConfig, model: Autoencoder, plan: DevicePlan) -> None:
        self.config, self.model, self.device = config, model, torch.device(plan.primary)
        self.forward = wrap_data_parallel(model, plan)  # several GPUs: torch DataParallel splits each batch
        self.opt = _optimizer(self.config, self.model.parameters())
        self.sched = _scheduler(self.config, self.opt)
        self.amp = plan.amp and plan.cuda
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.gen = torch.Generator().manual_seed(self.config.seed)

    def epoch(self, x: torch.Tensor, epoch: int, bs: int, n_batches: int, life: Lifecycle, ctx: RunContext) -> float:
        """Train one epoch on ``x``; its mean loss. A stop request raises at the next batch."""
        config, model, opt, scaler = self.config, self.model, self.opt, self.scaler
        model.train()
        perm = torch.randperm(x.shape[0], generator=self.gen).to(self.device)
        seen, loss_sum = 0, 0.0
        for b in range(n_batches):
            if life.stop_requested():
                raise RunCancelled("cancelled on request")
            xb = x[perm[b * bs:(b + 1) * bs] if b < n_batches - 1 else perm[b * bs:]]
            with torch.autocast(device_type=self.device.type, dtype=torch.float16, enabled=self.amp):
                loss = torch.nn.functional.mse_loss(self.forward(xb), xb)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if config.grad_clip:
                scaler.unscale_(opt)
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            scaler.step(opt)
            scaler.update()
            seen += xb.shape[0]
            loss_sum += loss.item() * xb.shape[0]
            ctx.progress(epoch * n_batches + b + 1, config.epochs * n_batches, phase="train")
        return loss_sum / max(seen, 1)

    def schedule(self, val_loss: float) -> None:
        if self.sched is not None:
            self.sched.step(val_loss) if self.config.scheduler == "plateau" else self.sched.step()

    def state(self) -> dict:
        """Copies, not the live weights and moments: the state may be written epochs later."""
        return {"model": _copied(self.model.state_dict()), "optimizer": _copied(self.opt.state_dict()),
                "scheduler": self.sched.state_dict() if self.sched is not None else None,
                "scaler": self.scaler.state_dict() if self.amp else None, "batch_order": self.gen.get_state()}

    def load(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optimizer"])
        if self.sched is not None and state.get("scheduler"):
            self.sched.load_state_dict(state["scheduler"])
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        if state.get("batch_order") is not None:
            self.gen.set_state(state["batch_order"])


class AnomalyTrainer(Trainer):
    family = "anomaly"

    def fit(self, config: AnomalyConfig, dataset: DatasetRef | None, ctx: RunContext) -> FitResult:
        self.require_dataset(dataset)
        plan = plan_devices(ctx.device, gpus=config.gpus, amp=config.amp)
        device = torch.device(plan.primary)
        data = _prepare(config, dataset, ctx, device)
        if device.type == "cpu":
            # a few-hundred-wide MLP gains nothing from intra-op threads, and their spin-waits make
            # it many times slower on a busy machine or in a forked RQ work horse (cpu_threads: 1)
            torch.set_num_threads(config.cpu_threads)
        torch.manual_seed(config.seed)
        step = _Step(config, build_model(config, data.input_dim).to(device), plan)
        life = Lifecycle(ctx, config.model_dump(mode="json"), CHECKPOINT_KIND, direction=FAMILY.headlines[0].direction,
                         select=config.select_model, patience=config.patience, min_delta=config.min_delta,
                         every_s=CHECKPOINT_EVERY_S if not config.checkpoint_frequency else math.inf)
        start_epoch = 0
        if (state := resume_state(ctx)) is not None:  # on the CPU: RNG states must be; load_state_dict moves the rest
            state = _resumable(state)
            step.load(state)
            start_epoch = life.resumed(state)
        elif config.init_version:
            _start_from_version(step.model, config, data.input_dim, ctx)
        bs, n_batches = _batches(data.train.shape[0], config)
        extra = {"input_dim": data.input_dim, "mean": torch.from_numpy(data.mean), "std": torch.from_numpy(data.std)}
        epoch, started = start_epoch - 1, time.monotonic()
        history: list[tuple[int, float, float | None]] = []  # (epoch, train loss, val loss) for the curves
        for epoch in range(start_epoch, config.epochs):
            train_loss = step.epoch(data.train, epoch, bs, n_batches, life, ctx)
            n = epoch + 1
            validate = n % config.validation_frequency == 0 or n == config.epochs
            row: dict[str, float] = {}
            if n % config.log_frequency == 0 or validate:
                row = {"train/loss": train_loss, "lr": step.opt.param_groups[0]["lr"]}
            val_loss = None
            if validate:
                step.model.eval()
                val_loss = step.model.errors(data.val).mean().item()
                row["val/loss"] = val_loss
            if row:
                ctx.log(row, step=epoch, epoch=epoch)
            history.append((epoch, train_loss, val_loss))
            if config.save_plots and config.plot_frequency and n % config.plot_frequency == 0:
                write_training_curves(ctx.out_dir, history, group=config.age_group)
            if not validate:  # early stopping and the best epoch count validations only
                continue
            step.schedule(val_loss)
            if life.epoch_end({**step.state(), **extra}, step=epoch, monitored=val_loss):
                break
            if config.checkpoint_frequency and n % config.checkpoint_frequency < config.validation_frequency:
                life.flush()  # the first validated epoch at or after each checkpoint_frequency epochs
        life.flush()
        ctx.progress(config.epochs * n_batches, config.epochs * n_batches, phase="train")
        if life.policy.best_step is None:  # no epoch had a finite validation loss
            raise ValueError("validation loss was never finite; lower the learning rate or check the data")

        # ---- threshold and evaluation with the selected (by default the best) weights
        weights = life.model_state()["model"]
        step.model.load_state_dict(weights)
        metrics, threshold, errors = _evaluate(step.model, data, config)
        metrics.update({"epochs": float(epoch + 1), "train/seconds": time.monotonic() - started})
        write_error_plots(ctx.out_dir, errors, threshold, group=config.age_group, draw=config.save_plots)
        if config.save_plots and config.plot_frequency:
            write_training_curves(ctx.out_dir, history, group=config.age_group)
        artifact = save_checkpoint(ctx.out_dir / "model.pt", {
            "kind": ARTIFACT_KIND, "model": weights, "config": config.model_dump(mode="json"), **extra,
            "threshold": threshold, "val_errors": torch.from_numpy(np.sort(errors["val"])),
            "backbone": config.backbone, "age_group": config.age_group, "metrics": metrics})
        return FitResult(metrics=metrics, model=ModelArtifact(path=artifact, scope=config.age_group, metrics=metrics,
                                                              threshold=threshold))


def _start_from_version(model: Autoencoder, config: AnomalyConfig, input_dim: int, ctx: RunContext) -> None:
    """Fine-tune: the autoencoder's weights of model version ``init_version`` (another age group
    or dataset), verified by the worker and again here; refused, naming both widths, when its
    embedding width (or layer sizes) differ from this run's."""
    init = getattr(ctx, "init_weights", None)
    if init is None:
        raise ValueError(f"init_version {config.init_version}: this run was handed no verified start weights "
                         "(the worker resolves the model version)")
    state = load_verified(init.path, init.sha256, what=f"{init.what} artifact")
    if state.get("kind") != ARTIFACT_KIND:
        raise ValueError(f"init_version {config.init_version}: {init.what} is not an anomaly autoencoder")
    width = int(state.get("input_dim", -1))
    if width != input_dim:
        raise ValueError(f"init_version {config.init_version}: {init.what} takes {width}-wide embeddings "
                         f"(backbone {state.get('backbone')!r}), this run's are {input_dim}-wide "
                         f"(backbone {config.backbone!r}); the embedding widths must match")
    own = model.state_dict()
    wrong = [k for k, v in state["model"].items() if k in own and own[k].shape != v.shape]
    if wrong or set(own) != set(state["model"]):
        raise ValueError(f"init_version {config.init_version}: {init.what} has other layer sizes "
                         f"(hidden_dims/latent_dim/batch_norm) than this config; differing: "
                         f"{', '.join(wrong or sorted(set(own) ^ set(state['model'])))}")
    model.load_state_dict(state["model"])
    log.info("fine-tuning from %s (age group %s)", init.what, state.get("age_group"))


def _evaluate(model: Autoencoder, data: _Data, config: AnomalyConfig) -> tuple[dict[str, float], float,
                                                                             dict[str, np.ndarray]]:
    """Threshold at the configured percentile of the validation errors; losses, and AUROC,
    precision and recall of the anomalies against the held-out normal drawings; the errors of
    each split (``val``, ``test``, ``anomalous``)."""
    model.eval()
    val_err = model.errors(data.val).float().cpu().numpy()
    threshold = float(np.percentile(val_err, config.threshold_percentile))
    test_err = model.errors(data.test).float().cpu().numpy() if data.test is not None else np.zeros(0)
    anom_err = model.errors(data.anomalous).float().cpu().numpy() if data.anomalous is not None else np.zeros(0)
    metrics: dict[str, float] = {"val/loss": float(val_err.mean()), "threshold": threshold, **data.counts}
    if len(test_err):
        metrics["test/loss"] = float(test_err.mean())
    if len(anom_err):
        held_out = np.concatenate([val_err, test_err])
        metrics["val/auroc"] = auroc(held_out, anom_err)
        precision, recall = precision_recall(held_out, anom_err, threshold)
        metrics["val/precision"], metrics["val/recall"] = precision, recall
    return metrics, threshold, {"val": val_err, "test": test_err, "anomalous": anom_err}
