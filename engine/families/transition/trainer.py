"""The ``transition`` trainer on PyTorch Lightning, bridged to a RunContext.

Per-patient split (stored as ``split.json`` and in the run's summary) → tensors per split →
``L.Trainer`` with ``ModelCheckpoint`` (top 3 by ``val_main_task_loss`` + ``last.ckpt``),
``EarlyStopping``, TensorBoard and CSV loggers under ``logs/``, gradient clipping and
accumulation, 16-bit mixed precision on CUDA → ``final_model.ckpt`` → the best checkpoint is
evaluated on the test patients (per-axis errors, and per patient: ``per_patient_errors.csv``,
``plots/per_patient_errors.png`` and the summary's ``per_patient``) and registered as the model
(the final one with ``select_model: last``). Before anything trains, the seed's pre-training
checklist (``checks.pretraining_problems``: dataset and patient folders, free disk) must pass;
``debug_fraction`` < 1 trains on a small subset of every patient's transitions.

Checkpoints load only with ``weights_only=True``; a resume hands Lightning only the checkpoint the
worker verified (``ctx.resume``), its sha256 checked again right before; initial weights only
from the operator's models folder.
"""
from __future__ import annotations

import csv
import logging
import math
import time
import warnings
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from engine.checkpoints import load_verified
from engine.core import DatasetRef, FitResult, ModelArtifact, RunContext, Trainer, check_stop
from engine.devices import DevicePlan, plan_devices
from engine.families.transition.artifacts import (
    dataset_stats,
    plot_dataset_statistics,
    plot_per_patient_errors,
    plot_training_summary,
    write_json,
)
from engine.families.transition.checks import pretraining_problems
from engine.families.transition.config import AXES, SPLITS, TransitionConfig
from engine.families.transition.frames import Transition, load_frame, load_split, normalisation
from engine.families.transition.splits import split_for
from engine.safeio import inside
from engine.subsets import stratified_subset
from engine.trust import UntrustedModelError, user_weights, verify_recorded

__all__ = ["TransitionTrainer", "quiet_lightning", "resolve_precision", "CHECKPOINT_PATTERN", "per_patient_errors",
           "debug_subset", "PER_PATIENT_FILE", "lightning_args"]

log = logging.getLogger("trainyard.transition")
# small convolutions gain little from more; spin-waiting intra-op threads slow a forked work horse
# many times over on a busy machine
CPU_THREADS = 1
CHECKPOINT_PATTERN = "transition-{epoch:02d}-{val_main_task_loss:.4f}"
EVAL_BATCH = 128
PER_PATIENT_FILE = "per_patient_errors.csv"


def debug_subset(items: list[Transition], fraction: float) -> list[Transition]:
    """The first ``fraction`` of each patient's transitions (at least one each), in order."""
    if fraction >= 1:
        return items
    by_patient: dict[str, list[Transition]] = {}
    for t in items:
        by_patient.setdefault(t.group, []).append(t)
    keep = {id(t) for rows in by_patient.values() for t in rows[:max(1, math.ceil(len(rows) * fraction))]}
    return [t for t in items if id(t) in keep]


@torch.inference_mode()
def per_patient_errors(module, tensors, items: list[Transition]) -> list[dict]:
    """Mean absolute action error per test patient, per axis and overall, in the data's units."""
    module.eval()
    errors = []
    for start in range(0, len(items), EVAL_BATCH):
        f1, f2, change, _ = tensors[start:start + EVAL_BATCH]
        errors.append((module.predict_action(f1, f2) - change).abs())
    err = torch.cat(errors) if errors else torch.zeros(0, len(AXES))
    rows = []
    for patient in sorted({t.group for t in items}):
        mask = torch.tensor([t.group == patient for t in items])
        mine = err[mask]
        rows.append({"patient": patient, "transitions": int(mask.sum()), "mae_mean": float(mine.mean()),
                     **{f"mae_{a}": float(mine[:, k].mean()) for k, a in enumerate(AXES)}})
    return rows


class _NoTips(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "Tip:" not in record.getMessage()


def quiet_lightning() -> None:
    """No cloud tips and none of the warnings that only concern multi-worker data loading or
    logging intervals of tiny datasets; Lightning never needs the network here."""
    for name in ("lightning.pytorch", "lightning.pytorch.utilities.rank_zero", "lightning.fabric"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _NoTips) for f in logger.filters):
            logger.addFilter(_NoTips())
    for pattern in (".*does not have many workers.*", ".*LeafSpec.*", ".*number of training batches.*",
                    ".*exists and is not empty.*", ".*Experiment logs directory.*", ".*isinstance.treespec.*"):
        warnings.filterwarnings("ignore", message=pattern)


def resolve_precision(config: TransitionConfig, device: str) -> str:
    """``precision`` as set; ``auto``: 16-mixed on CUDA when ``amp`` is on, else 32-true."""
    if config.precision != "auto":
        return config.precision
    return "16-mixed" if device.startswith("cuda") and config.amp else "32-true"


def lightning_args(config: TransitionConfig, plan: DevicePlan) -> dict[str, object]:
    """Lightning ``Trainer`` arguments for a plan: ``accelerator``, ``devices`` (the GPU index
    list on CUDA), ``strategy`` (``ddp`` across several GPUs: Lightning starts one process per
    GPU) and ``precision``."""
    if plan.cuda:
        return {"accelerator": "gpu", "devices": list(plan.indices), "strategy": "ddp" if plan.multi else "auto",
                "precision": resolve_precision(config, plan.primary)}
    return {"accelerator": plan.kind, "devices": 1, "strategy": "auto", "precision": resolve_precision(config, plan.kind)}


def load_transitions(dataset: DatasetRef) -> list[Transition]:
    """The dataset's imported transitions, from its samples."""
    return [Transition(group=r.label, ft1=r.meta["ft1"], ft2=r.meta["ft2"], change=tuple(r.meta["change"]),
                       at2=tuple(r.meta["at2"])) for r in dataset.samples if r.label and (r.meta or {}).get("ft1")]


def _resuming(ctx: RunContext) -> bool:
    return getattr(ctx, "resume", None) is not None or ctx.resume_from is not None


def _resume_path(ctx: RunContext) -> Path | None:
    """The checkpoint to hand Lightning's ``ckpt_path``: ``ctx.resume`` with its sha256 checked
    again now (a bare context without a recorded digest: its ``resume_from`` as it is)."""
    resume = getattr(ctx, "resume", None)
    if resume is not None:
        path = verify_recorded(resume.path, resume.sha256, what="checkpoint")
        log.info("resuming from %s (sha256 verified)", path.name)
        return path
    return Path(ctx.resume_from) if ctx.resume_from else None


def _load_initial_weights(module, name: str, state=None) -> None:
    """Load the network's weights from a models-folder file ``name``, or from ``state`` already
    loaded (a model version's verified checkpoint)."""
    if state is None:
        state = torch.load(user_weights(name, what="initial weights"), map_location="cpu", weights_only=True)
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    if not isinstance(state, dict):
        raise UntrustedModelError(f"initial weights {name!r} hold no state dict")
    state = {k[4:] if k.startswith("net.") else k: v for k, v in state.items()}
    result = module.net.load_state_dict(state, strict=False)
    own = set(module.net.state_dict())
    if not own & set(state):
        raise ValueError(f"initial weights {name!r} share no parameter with this network")
    log.info("initial weights %s: %d tensors loaded, %d missing, %d unexpected", name,
             len(own & set(state)), len(result.missing_keys), len(result.unexpected_keys))


def _prepare(config: TransitionConfig, dataset: DatasetRef, out: Path) -> tuple[dict, dict]:
    """The per-patient split and the transitions of each split; ``split.json``, the experiment
    record, the dataset statistics and their plot written to the run folder."""
    items = load_transitions(dataset)
    split = split_for(sorted({t.group for t in items}), config)
    problems = pretraining_problems(Path(dataset.root), [p for s in SPLITS for p in split[s]], out,
                                    config.min_free_disk_mb)
    if problems:
        raise ValueError("pre-training check failed: " + "; ".join(problems))
    by_split = {s: debug_subset([t for t in items if t.group in set(split[s])], config.debug_fraction) for s in SPLITS}
    by_split["train"] = stratified_subset(by_split["train"], group=lambda t: t.group, fraction=config.data_fraction,
                                          seed=config.seed, ident=lambda t: f"{t.ft1}|{t.ft2}")
    if config.debug_fraction < 1:
        log.info("debug_fraction %g: %s", config.debug_fraction,
                 ", ".join(f"{len(by_split[s])} {s}" for s in SPLITS) + " transitions")
    for s in SPLITS:
        if not by_split[s]:
            raise ValueError(f"the {s} split ({', '.join(split[s])}) holds no transitions")
    write_json(out / "split.json", split)
    write_json(out / "experiment_config.json", {"family": "transition", "dataset": dataset.name,
                                                "config": config.model_dump(mode="json"), "split": split})
    write_json(out / "dataset_stats.json", dataset_stats(split, by_split))
    root, first = Path(dataset.root), by_split["train"][0]
    preview = (load_frame(inside(root, first.ft1), config.image_size),
               load_frame(inside(root, first.ft2), config.image_size))
    plot_dataset_statistics(out / "plots" / "dataset_statistics.png", split, by_split, preview)
    log.info("split by patient: %s", "; ".join(f"{s} {len(split[s])} patients / {len(by_split[s])} transitions"
                                              for s in SPLITS))
    return split, by_split


def _lightning(config: TransitionConfig, ctx: RunContext, out: Path):
    """``L.Trainer`` with the run bridge, top-3 + last ``ModelCheckpoint``, early stopping and
    the TensorBoard and CSV loggers; returns it with the checkpoint callback and the bridge."""
    import lightning as L
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    from engine.families.transition.bridge import RunBridge

    checkpoint = ModelCheckpoint(dirpath=out / "checkpoints", filename=CHECKPOINT_PATTERN,
                                 monitor="val_main_task_loss", mode="min", save_top_k=3, save_last=True,
                                 save_on_train_epoch_end=False)
    bridge = RunBridge(ctx, checkpoint)
    callbacks = [bridge, checkpoint]
    if config.early_stop_patience:
        callbacks.append(EarlyStopping(monitor="val_main_task_loss", mode="min", patience=config.early_stop_patience))
    loggers = [TensorBoardLogger(out / "logs", name="transition", version=""),
               CSVLogger(out / "logs", name="transition_csv", version="")]
    placed = lightning_args(config, plan_devices(ctx.device, gpus=config.gpus, amp=config.amp))
    accelerator, precision = placed["accelerator"], placed["precision"]
    trainer = L.Trainer(
        **placed, max_epochs=config.max_epochs,
        gradient_clip_val=config.gradient_clip_val or None, accumulate_grad_batches=config.accumulate_grad_batches,
        deterministic=config.deterministic, logger=loggers, callbacks=callbacks, enable_progress_bar=False,
        enable_model_summary=False, num_sanity_val_steps=0, log_every_n_steps=1, default_root_dir=out)
    log.info("Lightning: %s, precision %s", accelerator, precision)
    return trainer, checkpoint, bridge


class TransitionTrainer(Trainer):
    family = "transition"

    def fit(self, config: TransitionConfig, dataset: DatasetRef | None, ctx: RunContext) -> FitResult:
        self.require_dataset(dataset)
        quiet_lightning()
        import lightning as L

        from engine.families.transition.module import TransitionModule

        started = time.monotonic()
        out = Path(ctx.out_dir)
        ctx.progress(0, 1, "prepare")
        split, by_split = _prepare(config, dataset, out)
        L.seed_everything(config.seed, workers=True, verbose=False)
        if ctx.device == "cpu":
            torch.set_num_threads(CPU_THREADS)
        tensors = {s: load_split(Path(dataset.root), by_split[s], config.image_size) for s in SPLITS}
        check_stop(ctx)
        module = TransitionModule(config.model_dump(mode="json"), normalisation(by_split["train"]))
        if config.init_version and not _resuming(ctx):
            init = getattr(ctx, "init_weights", None)
            if init is None:
                raise ValueError(f"init_version {config.init_version}: this run was handed no verified start "
                                 "weights (the worker resolves the model version)")
            _load_initial_weights(module, init.what, load_verified(init.path, init.sha256, what=f"{init.what} artifact"))
        elif config.initial_weights and not _resuming(ctx):
            _load_initial_weights(module, config.initial_weights)
        gen = torch.Generator().manual_seed(config.seed)
        workers = {"num_workers": config.num_workers,
                   "persistent_workers": config.persistent_workers and config.num_workers > 0}
        train_loader = DataLoader(tensors["train"], batch_size=config.batch_size, shuffle=True, generator=gen, **workers)
        val_loader = DataLoader(tensors["val"], batch_size=max(config.batch_size, EVAL_BATCH), **workers)
        test_loader = DataLoader(tensors["test"], batch_size=max(config.batch_size, EVAL_BATCH), **workers)
        trainer, checkpoint, bridge = _lightning(config, ctx, out)
        log.info("%d train / %d val / %d test transitions", *(len(tensors[s]) for s in SPLITS))
        trainer.fit(module, train_loader, val_loader, ckpt_path=_resume_path(ctx), weights_only=True)
        check_stop(ctx)

        last_epoch = max(trainer.current_epoch - 1, 0)
        final = out / "final_model.ckpt"
        trainer.save_checkpoint(final, weights_only=False)
        last_val = bridge.last_metrics.get("val/main_task_loss")
        bridge.register(final, step=last_epoch, monitored=last_val, best=False)
        ctx.progress(1, 1, "train")

        # ---- evaluate the selected checkpoint (the best unless select_model: last) on the test patients
        best = Path(checkpoint.best_model_path) if checkpoint.best_model_path else final
        chosen = best if config.select_model == "best" else final
        verify_recorded(chosen, bridge.recorded.get(str(chosen)), what=f"{config.select_model} checkpoint")
        module.load_state_dict(torch.load(chosen, map_location="cpu", weights_only=True)["state_dict"])
        ctx.progress(0, 1, "test")
        results = trainer.test(module, test_loader, verbose=False)[0]
        test = {f"test/{k[5:]}": float(v) for k, v in results.items() if k.startswith("test_")}
        ctx.log(test, step=last_epoch, epoch=last_epoch)
        patients = per_patient_errors(module, tensors["test"], by_split["test"])
        with open(out / PER_PATIENT_FILE, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(patients[0]))
            writer.writeheader()
            writer.writerows(patients)
        plot_per_patient_errors(out / "plots" / "per_patient_errors.png", patients)
        ctx.progress(1, 1, "test")

        plot_training_summary(out / "plots" / "training_summary.png", self._history(out))
        best_val = float(checkpoint.best_model_score) if checkpoint.best_model_score is not None else float("nan")
        chosen_val = best_val if chosen == best else float("nan") if last_val is None else last_val
        metrics: dict = {"val/main_task_loss": chosen_val, **test,
                         "epochs": float(trainer.current_epoch), "train/seconds": time.monotonic() - started,
                         **{f"data/{s}_patients": float(len(split[s])) for s in SPLITS},
                         **{f"data/{s}": float(len(by_split[s])) for s in SPLITS},
                         "split": split, "best_checkpoint": best.name, "model_checkpoint": chosen.name,
                         "per_patient": patients, "debug_fraction": config.debug_fraction,
                         **{f"last/{k}": v for k, v in bridge.last_metrics.items()}}
        write_json(out / "summary.json", metrics)
        model_metrics = {k: v for k, v in metrics.items() if isinstance(v, float)}
        return FitResult(metrics=metrics, model=ModelArtifact(path=chosen, scope="", metrics=model_metrics))

    @staticmethod
    def _history(out: Path) -> dict[int, dict[str, float]]:
        """Per-epoch metrics from the CSV log (it spans resumes of this run)."""
        import csv

        from engine.families.transition.bridge import metric_name

        path = out / "logs" / "transition_csv" / "metrics.csv"
        history: dict[int, dict[str, float]] = {}
        if not path.exists():
            return history
        with open(path, newline="") as fh:
            for row in csv.DictReader(fh):
                if not row.get("epoch"):
                    continue
                epoch = int(float(row["epoch"]))
                for k, v in row.items():
                    if v not in (None, "") and k not in ("epoch", "step"):
                        name = "lr" if k.startswith("lr") else metric_name(k)
                        history.setdefault(epoch, {})[name] = float(v)
        return history

