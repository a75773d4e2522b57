"""The whole anomaly path on generated drawings with the tiny ViT: import, embed, sufficiency,
three age groups trained through the queue, embeddings never recomputed, analyze, offline CLI."""
from __future__ import annotations

import time

import pytest

from db import queries
from db.models import RunStatus
from db.session import session_scope
from engine.configs import validate_config
from engine.families import FAMILIES
from engine.families.anomaly.config import scope_for_age
from engine.families.anomaly.sufficiency import group_stats
from jobs import api
from jobs.inputs import dataset_ref
from settings import get_settings
from tests.conftest import wait_for_status

GROUPS = ("3-6", "6-9", "9-12")
FAST = {"epochs": 60, "patience": 10, "batch_size": 16, "hidden_dims": [64, 32], "latent_dim": 8, "backbone": "tiny-vit"}


@pytest.fixture(scope="module")
def trained(stack, worker):
    """A generated dataset (imported on the worker) and one completed run per age group."""
    info = api.generate_sample_dataset("drawings", name="drawings-e2e", count=240, seed=7, timeout_s=120)
    assert info["samples"] == 240 and not info["problems"]
    family = FAMILIES["anomaly"]
    configs = [validate_config(family, {**FAST, "age_group": g}) for g in GROUPS]
    ref = dataset_ref(info["dataset_id"])
    assert all(family.launch_blockers(ref, c) == [] for c in configs)
    runs = [api.submit_run(family="anomaly", config=c, dataset_id=info["dataset_id"]) for c in configs]
    done = [wait_for_status(r.id, [RunStatus.completed, RunStatus.failed, RunStatus.cancelled], timeout=240)
            for r in runs]
    for run in done:
        assert run.status == RunStatus.completed, run.error
    return info["dataset_id"], done


def test_three_groups_train_log_curves_and_register_one_model_each(trained):
    dataset_id, runs = trained
    with session_scope() as s:
        samples = queries.dataset_samples(session=s, dataset_id=dataset_id)
        models = {m.scope: m for m in queries.list_model_versions(session=s, family="anomaly", active_only=True)}
        for run in runs:
            rows = queries.metric_rows(session=s, run_id=run.id, names=["train/loss", "val/loss"])
            val = [m.value for m in rows if m.name == "val/loss"]
            assert len(val) == sum(1 for m in rows if m.name == "train/loss") == run.summary["epochs"] >= 2
            assert min(val) < val[0], "the autoencoder should learn"
            ckpts = queries.list_checkpoints(session=s, run_id=run.id)
            assert sum(c.best for c in ckpts) == 1
    stats = {s.label: s for s in group_stats(samples, [r for r in map(_range, GROUPS)])}
    for run, group in zip(runs, GROUPS):
        m = run.summary
        assert m["data/train"] + m["data/val"] + m["data/test"] == stats[group].normal
        assert m["data/anomalous"] == stats[group].anomalous > 0
        assert m["threshold"] > 0 and m["val/loss"] > 0
        # planted anomalies were held out of training; the score must separate them
        assert m["val/auroc"] >= 0.8, (group, m)
        assert models[group].run_id == run.id and models[group].threshold == pytest.approx(m["threshold"])
    print("AUROC per group:", {g: round(r.summary["val/auroc"], 3) for g, r in zip(GROUPS, runs)})


def _range(label):
    from engine.families.anomaly.config import parse_age_range

    return parse_age_range(label)


def test_embeddings_are_computed_once(trained):
    dataset_id, runs = trained
    with session_scope() as s:
        stored = queries.count_embeddings(session=s, dataset_id=dataset_id, backbone="tiny-vit")
        in_groups = sum(1 for smp in queries.dataset_samples(session=s, dataset_id=dataset_id)
                        if scope_for_age(list(GROUPS), smp.group_value))
    assert sum(r.summary["data/embedded_now"] for r in runs) == stored == in_groups
    again = api.submit_run(family="anomaly", config={**FAST, "age_group": "3-6", "epochs": 2},
                           dataset_id=dataset_id)
    done = wait_for_status(again.id, [RunStatus.completed, RunStatus.failed], timeout=120)
    assert done.status == RunStatus.completed, done.error
    assert done.summary["data/embedded_now"] == 0
    job_id = api.submit_embedding(dataset_id=dataset_id, backbone="tiny-vit")
    deadline = time.monotonic() + 60
    while (status := api.embedding_status(job_id))["status"] not in ("finished", "failed"):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert status["result"] == {"dataset_id": dataset_id, "backbone": "tiny-vit", "computed": 0, "stored": stored}
    with session_scope() as s:
        assert queries.count_embeddings(session=s, dataset_id=dataset_id, backbone="tiny-vit") == stored
        # the retrained group's model replaces the active one only if its val/loss is lower (auto-if-better)
        active = queries.active_model(session=s, family="anomaly", scope="3-6")
        (new,) = [v for v in queries.scope_versions(session=s, family="anomaly", scope="3-6") if v.run_id == again.id]
        assert active.metrics["val/loss"] <= new.metrics["val/loss"]
        assert new.status == ("active" if active.id == new.id else "candidate")


def test_analyze_a_drawing_with_the_active_model_of_its_age_group(trained):
    dataset_id, _ = trained
    with session_scope() as s:
        ds = queries.get_dataset(session=s, dataset_id=dataset_id)
        samples = queries.dataset_samples(session=s, dataset_id=dataset_id)
        scopes = [m.scope for m in queries.list_model_versions(session=s, family="anomaly", active_only=True)]
    normal = next(x for x in samples if x.label == "normal" and 6 <= x.group_value < 9)
    odd = next(x for x in samples if x.label == "anomalous" and 6 <= x.group_value < 9)
    scope = scope_for_age(scopes, normal.group_value)
    assert scope == "6-9"
    with session_scope() as s:
        mv = queries.active_model(session=s, family="anomaly", scope=scope)
    root = get_settings().resolved_data_root / ds.name
    results = [api.request_prediction(mv.id, {"image": (root / x.path).read_bytes(), "age": x.group_value},
                                      timeout_s=60) for x in (normal, odd)]
    for r in results:
        assert r["age_group"] == "6-9" and r["model_version_id"] == mv.id
        assert r["threshold"] == pytest.approx(mv.threshold) and 0 <= r["percentile"] <= 100
    assert results[1]["is_anomaly"] and results[1]["reconstruction_error"] > results[0]["reconstruction_error"]
    assert results[1]["percentile"] == 100.0


def test_offline_cli_skips_trained_groups_and_trains_with_force(trained, capsys):
    from cli import main

    def train(*argv):
        return main(["train", "anomaly", *argv])

    assert train("--dataset", "drawings-e2e", "--age-groups", "6-9,2-3", "--min-samples", "10") == 0
    out = capsys.readouterr().out
    assert "[6-9] skipped: already trained" in out
    assert "[2-3] skipped: age group 2-3 has 0 normal drawing(s), below min_samples=10" in out
    assert train("--dataset", "drawings-e2e", "--age-groups", "9-12", "--force", "--set", "epochs=3") == 0
    out = capsys.readouterr().out
    assert "[9-12] done in" in out and "threshold" in out and "val reconstruction loss" in out
    assert "total: 1 trained, 0 skipped, 0 failed" in out
    with session_scope() as s:
        assert [r.name for r in queries.list_runs(session=s) if r.name.endswith("(cli)")][0] == "anomaly 9-12 (cli)"
    assert train("--dataset", "nope") == 2
    assert train("--dataset", "drawings-e2e", "--age-groups", "2-3") == 2  # the gate refuses every group
    assert "age group 2-3 has 0 normal drawing(s)" in capsys.readouterr().err


class _Ctx:
    """An in-memory RunContext that asks to stop after ``stop_after`` logged epochs."""

    def __init__(self, out_dir, stop_after=None, resume_from=None, stores=None):
        self.out_dir, self.device, self.resume_from = out_dir, "cpu", resume_from
        self.stop_after, self.logged, self.checkpoints = stop_after, [], []
        if stores is not None:
            self.stores = stores

    def log(self, metrics, *, step, epoch=None):
        self.logged.append((step, dict(metrics)))

    def progress(self, done, total, phase="train"):
        pass

    def checkpoint(self, path, *, step, monitored=None, best=None):
        self.checkpoints.append((path.name, step, best))

    def should_stop(self):
        return self.stop_after is not None and len(self.logged) >= self.stop_after


def test_cancel_stops_at_a_batch_and_resume_continues_from_the_last_epoch(trained, tmp_path):
    from engine.core import RunCancelled
    from engine.families.anomaly.trainer import AnomalyTrainer
    from engine.stores import EMBEDDINGS, MemoryEmbeddingStore

    dataset_id, _ = trained
    ref = dataset_ref(dataset_id)  # the samples travel with the dataset; the trainer queries nothing
    stores = {EMBEDDINGS: MemoryEmbeddingStore()}
    config = validate_config(FAMILIES["anomaly"], {**FAST, "age_group": "6-9", "epochs": 8, "patience": 0})
    ctx = _Ctx(tmp_path / "run", stop_after=3, stores=stores)
    with pytest.raises(RunCancelled):
        AnomalyTrainer().fit(config, ref, ctx)
    assert [s for s, _ in ctx.logged] == [0, 1, 2]
    assert ("last.pt", 2, False) in ctx.checkpoints
    embedded = len(stores[EMBEDDINGS])
    assert embedded > 0
    resumed = _Ctx(tmp_path / "run", resume_from=tmp_path / "run" / "checkpoints" / "last.pt", stores=stores)
    result = AnomalyTrainer().fit(config, ref, resumed)
    assert [s for s, _ in resumed.logged] == list(range(3, 8))
    assert result.model.scope == "6-9" and result.model.path.exists()
    assert result.metrics["epochs"] == 8 and result.metrics["data/embedded_now"] == 0
    assert len(stores[EMBEDDINGS]) == embedded

    # the checkpoint carries the RNG and the batch order: the resumed epochs are those of a run
    # that was never interrupted (a bare context, which gets an in-memory store of its own)
    whole = _Ctx(tmp_path / "whole")
    again = AnomalyTrainer().fit(config, ref, whole)
    assert again.metrics["data/embedded_now"] == embedded
    assert [(s, m["val/loss"]) for s, m in whole.logged[3:]] == \
        [(s, pytest.approx(m["val/loss"], rel=1e-6)) for s, m in resumed.logged]
    assert again.metrics["threshold"] == pytest.approx(result.metrics["threshold"], rel=1e-6)


def test_the_registered_weights_are_the_best_epoch_unless_the_config_says_last(trained, tmp_path):
    import torch

    from engine.checkpoints import load_checkpoint
    from engine.families.anomaly.trainer import AnomalyTrainer
    from jobs.inputs import DbEmbeddingStore

    dataset_id, _ = trained
    ref, stores = dataset_ref(dataset_id), {"embeddings": DbEmbeddingStore()}
    for select in ("best", "last"):
        # a learning rate high enough that the last epoch is not the best one
        config = validate_config(FAMILIES["anomaly"], {**FAST, "age_group": "6-9", "epochs": 12, "patience": 0,
                                                       "lr": 0.01, "select_model": select})
        ctx = _Ctx(tmp_path / select, stores=stores)
        result = AnomalyTrainer().fit(config, ref, ctx)
        model = load_checkpoint(result.model.path)["model"]
        chosen = load_checkpoint(tmp_path / select / "checkpoints" / f"{select}.pt")
        assert chosen["kind"] == "trainyard.anomaly.checkpoint/1" and chosen["config"]["select_model"] == select
        assert {"model", "optimizer", "step", "rng", "batch_order", "config"} <= set(chosen)
        assert all(torch.equal(model[k], chosen["model"][k]) for k in model)
        losses = [m["val/loss"] for _, m in ctx.logged]
        assert chosen["step"] == (losses.index(min(losses)) if select == "best" else len(losses) - 1)
