"""``init_version``: a run starts from a registered model version (fine-tuning), on a real queue
and worker. The start is measurably better than from scratch, the run records its parent
version (the Models page's lineage), and a bad ``init_version`` is refused before anything is
queued, naming the value."""
from __future__ import annotations

import logging

import pytest

from db import queries
from db.models import RunStatus
from db.session import session_scope
from engine.configs import ConfigError
from jobs import api
from jobs.launch import plan_launch
from tests.conftest import wait_for_status

FAST = {"epochs": 40, "patience": 40, "batch_size": 16, "hidden_dims": [64, 32], "latent_dim": 8,
        "backbone": "tiny-vit", "lr": 0.001}
FINAL = [RunStatus.completed, RunStatus.failed, RunStatus.cancelled]
# a fine-tuned autoencoder's first validation loss is at most this fraction of the loss after one
# epoch from scratch (measured on the generated drawings, seed 11: 0.70)
START_MARGIN = 0.85


def _first_val(run_id: int) -> float:
    with session_scope() as s:
        rows = queries.metric_rows(session=s, run_id=run_id, names=["val/loss"])
    return min(rows, key=lambda m: m.step).value


def _run_count() -> int:
    with session_scope() as s:
        return sum(queries.count_runs_by_status(session=s).values())


@pytest.fixture(scope="module")
def source(stack, worker):
    """A generated drawings dataset and one completed anomaly run (age group 3-6): its model version."""
    info = api.generate_sample_dataset("drawings", name="drawings-init", count=240, seed=11, timeout_s=120)
    run = api.submit_run(family="anomaly", config={**FAST, "age_group": "3-6"}, dataset_id=info["dataset_id"])
    done = wait_for_status(run.id, FINAL, timeout=240)
    assert done.status == RunStatus.completed, done.error
    with session_scope() as s:
        (mv,) = queries.model_versions_for_runs(session=s, run_ids=[run.id])
    return info["dataset_id"], mv


def test_anomaly_fine_tune_starts_better_than_scratch_and_records_its_parent(source):
    dataset_id, mv = source
    one = {**FAST, "age_group": "6-9", "epochs": 1}
    tuned = api.submit_run(family="anomaly", config={**one, "init_version": mv.id}, dataset_id=dataset_id)
    scratch = api.submit_run(family="anomaly", config=one, dataset_id=dataset_id)
    tuned, scratch = (wait_for_status(r.id, FINAL, timeout=240) for r in (tuned, scratch))
    assert tuned.status == scratch.status == RunStatus.completed, (tuned.error, scratch.error)
    t, s0 = _first_val(tuned.id), _first_val(scratch.id)
    print(f"first-epoch val/loss: from version {mv.id} {t:.4f}, from scratch {s0:.4f} (ratio {t / s0:.2f})")
    assert t <= START_MARGIN * s0
    assert tuned.parent_version_id == mv.id and scratch.parent_version_id is None
    with session_scope() as s:
        lineage = queries.runs_started_from(session=s, model_version_ids=[mv.id])
    assert [r.id for r in lineage[mv.id]] == [tuned.id]


def test_a_missing_version_is_refused_before_anything_is_queued(source):
    dataset_id, _ = source
    before = _run_count()
    with pytest.raises(ConfigError, match=r"init_version.*987654.*no model version with id 987654"):
        api.submit_run(family="anomaly", config={**FAST, "age_group": "6-9", "init_version": 987654},
                       dataset_id=dataset_id)
    assert _run_count() == before


def test_another_familys_version_is_refused_in_the_launch_path(source):
    _, mv = source
    before = _run_count()
    with pytest.raises(ConfigError, match=rf"init_version.*{mv.id}.*is a anomaly model, not a transition one"):
        plan_launch("transition", config={"init_version": mv.id})
    with pytest.raises(ConfigError, match=rf"{mv.id}.*not a ppo one"):
        plan_launch("ppo", config={"init_version": mv.id})
    assert _run_count() == before


def test_an_anomaly_version_of_another_width_is_refused_naming_both(source, tmp_path):
    import torch

    from engine.core import VerifiedFile
    from engine.families.anomaly.config import AnomalyConfig
    from engine.families.anomaly.trainer import _start_from_version, build_model

    _, mv = source
    config = AnomalyConfig(**{**FAST, "age_group": "6-9", "init_version": mv.id})
    ctx = type("Ctx", (), {})()
    ctx.init_weights = VerifiedFile(path=mv.artifact_path, sha256=mv.sha256, what=f"model version {mv.id}",
                                    meta={"version_id": mv.id, "family": "anomaly"})
    width = int(torch.load(mv.artifact_path, weights_only=True)["input_dim"])
    with pytest.raises(ValueError, match=rf"takes {width}-wide embeddings.*this run's are {width + 3}-wide"):
        _start_from_version(build_model(config, width + 3), config, width + 3, ctx)


def test_reid_reads_the_old_key_with_a_deprecation_note(caplog):
    from engine.families.reid.config import ReidConfig

    with caplog.at_level(logging.WARNING):
        config = ReidConfig(init_model_version=5)
    assert config.init_version == 5
    assert "'init_model_version' is deprecated; use 'init_version'" in caplog.text


TRANSITION = {"d_model": 32, "num_heads": 4, "num_layers": 1, "cnn_channels": 32, "batch_size": 16, "lr": 3e-3,
              "early_stop_patience": 0, "scheduler": "cosine", "warmup_epochs": 1}
# the first epoch's val main-task loss of a run from a version, as a fraction of the first epoch
# from scratch (measured on 8 generated patients x 60, 8 source epochs: 0.355 vs 0.418, ratio 0.85)
TRANSITION_MARGIN = 0.95


def test_transition_fine_tune_starts_better_than_scratch_and_records_its_parent(stack, worker):
    info = api.generate_sample_dataset("transitions", name="transitions-init", groups=8, per_group=60, seed=1,
                                       timeout_s=120)
    first = api.submit_run(family="transition", config={**TRANSITION, "max_epochs": 8}, dataset_id=info["dataset_id"])
    first = wait_for_status(first.id, FINAL, timeout=400)
    assert first.status == RunStatus.completed, first.error
    with session_scope() as s:
        (mv,) = queries.model_versions_for_runs(session=s, run_ids=[first.id])
    one = {**TRANSITION, "max_epochs": 1}
    tuned = api.submit_run(family="transition", config={**one, "init_version": mv.id}, dataset_id=info["dataset_id"])
    scratch = api.submit_run(family="transition", config=one, dataset_id=info["dataset_id"])
    tuned, scratch = (wait_for_status(r.id, FINAL, timeout=400) for r in (tuned, scratch))
    assert tuned.status == scratch.status == RunStatus.completed, (tuned.error, scratch.error)

    def first_val(run_id: int) -> float:
        with session_scope() as s:
            rows = queries.metric_rows(session=s, run_id=run_id, names=["val/main_task_loss"])
        return min(rows, key=lambda m: m.step).value

    t, s0 = first_val(tuned.id), first_val(scratch.id)
    print(f"transition first-epoch val/main_task_loss: from version {mv.id} {t:.4f}, scratch {s0:.4f} "
          f"(ratio {t / s0:.2f})")
    assert t <= TRANSITION_MARGIN * s0
    assert tuned.parent_version_id == mv.id and scratch.parent_version_id is None
