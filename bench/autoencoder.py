"""Autoencoder training of one age group: the whole run (``jobs.tasks.execute_run`` as a worker's
work horse runs it: the run handed to a warm training interpreter, ``jobs.child``, started ahead
as a worker's pool does, which trains it with the database, metrics, progress, checkpoints, log
capture and resource sampler, while this process waits) against a plain PyTorch loop in this
process over the same vectors with the same model, optimizer and epochs. Embeddings are
computed once beforehand (the tiny ViT) and not part of either; the warm interpreter is started
and settled before the clock starts. Bar: ≤ 1.05×.
"""
from __future__ import annotations

import os
import time

import numpy as np

from bench.harness import REPEATS, installation, line, size

EPOCHS = size(60, 300)
# save_plots off: the plain loop draws no figure either (the error histogram and ROC cost ~0.1-0.9 s a run)
CONFIG = {"age_group": "3-12", "epochs": EPOCHS, "patience": 0, "min_samples": 5, "embed_batch_size": 64,
          "save_plots": False}


def _plain(dataset_id: int) -> float:
    import torch

    from engine.families.anomaly.config import AnomalyConfig
    from engine.families.anomaly.data import is_anomalous
    from engine.families.anomaly.embeddings import load_vectors
    from engine.families.anomaly.splits import stratified_split
    from engine.families.anomaly.sufficiency import samples_in_group
    from engine.families.anomaly.trainer import _optimizer, build_model
    from jobs.inputs import DbEmbeddingStore, dataset_ref

    config = AnomalyConfig(**CONFIG)
    t0 = time.perf_counter()
    rows = [r for r in samples_in_group(dataset_ref(dataset_id).samples, config.age_range)
            if not is_anomalous(r.label)]
    x = load_vectors(DbEmbeddingStore(), config.backbone, [r.id for r in rows])
    tr, va, _ = stratified_split([r.group_value for r in rows], (config.train_split, config.val_split, config.test_split),
                                 seed=config.seed, stratify=True)
    mean, std = x[tr].mean(axis=0), x[tr].std(axis=0) + 1e-6
    x_train = torch.from_numpy(((x[tr] - mean) / std).astype(np.float32))
    x_val = torch.from_numpy(((x[va] - mean) / std).astype(np.float32))
    torch.set_num_threads(1)
    torch.manual_seed(config.seed)
    model = build_model(config, x.shape[1])
    opt = _optimizer(config, model.parameters())
    gen = torch.Generator().manual_seed(config.seed)
    n, bs = x_train.shape[0], min(config.batch_size, x_train.shape[0])
    batches = -(-n // bs)
    if n % bs == 1 and batches > 1:
        batches -= 1
    for _ in range(config.epochs):
        model.train()
        perm = torch.randperm(n, generator=gen)
        for b in range(batches):
            xb = x_train[perm[b * bs:(b + 1) * bs] if b < batches - 1 else perm[b * bs:]]
            loss = torch.nn.functional.mse_loss(model(xb), xb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            opt.step()
        model.eval()
        with torch.no_grad():
            model.errors(x_val).mean().item()
    return time.perf_counter() - t0


def _whole(dataset_id: int) -> float:
    from db import queries
    from db.session import session_scope
    from jobs import training_process as child
    from jobs.tasks import execute_run

    with session_scope() as s:
        run = queries.create_run(session=s, family="anomaly", config=CONFIG, dataset_id=dataset_id)
    warm = child.spawn(warm=True)
    proc = warm.proc
    while not any("ready" in m for m in warm.channel.read(timeout=None)):  # its imports are done
        assert not warm.channel.eof, "the warm training interpreter died"
    child.hand_over(warm)
    t0 = time.perf_counter()
    status = execute_run(run.id, isolate=True)
    took = time.perf_counter() - t0
    proc.wait(timeout=60)
    assert status == "completed", status
    return took


def measure() -> dict[str, float]:
    from engine.families.anomaly.embeddings import ensure_embeddings
    from jobs.datasets import import_dataset
    from jobs.inputs import DbEmbeddingStore, dataset_ref

    with installation():
        os.environ["TRAINYARD_RESOURCE_INTERVAL"] = "5"
        from engine.datasets import DATASET_KINDS
        from settings import get_settings

        folder = DATASET_KINDS["drawings"].generate(get_settings().resolved_data_root / "bench", count=size(300, 600))
        dataset, _ = import_dataset(name="bench", kind="drawings", root=folder)
        ensure_embeddings(DbEmbeddingStore(), "tiny-vit", dataset_ref(dataset.id).samples, root=dataset.root)
        _plain(dataset.id)  # warm-up: imports, allocator
        best = {"plain": float("inf"), "whole": float("inf")}
        for _ in range(REPEATS):
            best["plain"] = min(best["plain"], _plain(dataset.id))
            best["whole"] = min(best["whole"], _whole(dataset.id))
    return best


def report() -> list[bool]:
    t = measure()
    ok = t["whole"] <= 1.05 * t["plain"]
    print(line(f"autoencoder training, {EPOCHS} epochs, whole run", "plain PyTorch loop", t["plain"], t["whole"],
               "≤ 1.05×", ok))
    return [ok]


if __name__ == "__main__":
    report()
