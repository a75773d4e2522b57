"""Evaluation as a job, on a real queue and worker: a registered model evaluated on a held-out
split gives the metrics its trainer reported for the same weights and split (within a stated
tolerance), the leaderboard ranks two versions by the family's headline, and every bad input is
refused before anything is stored or queued, naming the value."""
from __future__ import annotations

import math

import pytest

from db import queries
from db.models import Evaluation, RunStatus
from db.session import session_scope
from engine.core import EvaluationRefused
from jobs import api, queues
from jobs.enqueue import PRIORITIES
from tests.conftest import wait_for_status

FINAL = [RunStatus.completed, RunStatus.failed, RunStatus.cancelled]
# the same weights on the same vectors: the evaluator recomputes what the trainer computed, so
# the numbers agree to float32 rounding
TOLERANCE = 1e-5
ANOMALY = {"batch_size": 16, "hidden_dims": [64, 32], "latent_dim": 8, "backbone": "tiny-vit", "lr": 0.001,
           "age_group": "3-6"}


def _close(a: float, b: float, tol: float = TOLERANCE) -> bool:
    return math.isclose(a, b, rel_tol=tol, abs_tol=tol)


def _counts() -> tuple[int, int]:
    """Evaluation rows and queued jobs: what a refusal must leave unchanged."""
    from sqlmodel import select

    with session_scope() as s:
        rows = len(list(s.exec(select(Evaluation.id))))
    return rows, sum(queues.queue(p).count for p in PRIORITIES)


def _version(run_id: int):
    with session_scope() as s:
        (mv,) = queries.model_versions_for_runs(session=s, run_ids=[run_id])
    return mv


def _evaluate(**kwargs):
    ev = api.submit_evaluation(**kwargs)
    ev = api.wait_for_evaluation(ev.id, timeout_s=300)
    assert ev.status == "completed", ev.error
    print(f"evaluation {ev.id} ({ev.family} {ev.split}): {ev.duration_s:.2f} s on the worker")
    return ev


@pytest.fixture(scope="module")
def drawings(stack, worker):
    """A generated drawings dataset, an anomaly model trained 40 epochs and one trained 1 epoch."""
    info = api.generate_sample_dataset("drawings", name="drawings-eval", count=160, seed=11, timeout_s=120)
    good = api.submit_run(family="anomaly", config={**ANOMALY, "epochs": 40, "patience": 40},
                          dataset_id=info["dataset_id"])
    poor = api.submit_run(family="anomaly", config={**ANOMALY, "epochs": 1, "patience": 1},
                          dataset_id=info["dataset_id"])
    good, poor = (wait_for_status(r.id, FINAL, timeout=300) for r in (good, poor))
    assert good.status == poor.status == RunStatus.completed, (good.error, poor.error)
    return info["dataset_id"], _version(good.id), _version(poor.id)


def test_anomaly_evaluation_gives_the_trainers_metrics(drawings):
    dataset_id, mv, _ = drawings
    reported = mv.metrics
    test = _evaluate(model_version_id=mv.id, dataset="drawings-eval", split="test")
    val = _evaluate(model_version_id=mv.id, dataset=dataset_id, split="val")
    held = _evaluate(model_version_id=mv.id, dataset=dataset_id, split="held-out")
    print({k: (test.metrics.get(k), reported.get(k)) for k in ("test/loss", "threshold")},
          {"val/loss": (val.metrics["val/loss"], reported["val/loss"]),
           "auroc": (held.metrics.get("held-out/auroc"), reported.get("val/auroc"))})
    assert _close(test.metrics["test/loss"], reported["test/loss"])
    assert _close(val.metrics["val/loss"], reported["val/loss"])
    assert _close(test.metrics["threshold"], reported["threshold"])
    # the trainer's AUROC, precision and recall are of its held-out normals (val + test) vs the anomalies
    for name in ("auroc", "precision", "recall"):
        assert _close(held.metrics[f"held-out/{name}"], reported[f"val/{name}"]), name
    assert test.model_version_id == mv.id and test.run_id == mv.run_id and test.duration_s > 0
    files = {a["path"] for a in test.artifacts}
    assert {"errors.json", "plots/error_histogram.png", "evaluate.log"} <= files
    with session_scope() as s:
        mine = queries.evaluations_for_versions(session=s, model_version_ids=[mv.id])[mv.id]
    assert [e.id for e in mine][:3] == [held.id, val.id, test.id]


def test_the_leaderboard_ranks_two_versions_by_the_headline(drawings):
    from ui.evaluations import leaderboard_rows

    dataset_id, good, poor = drawings
    for mv in (poor, good):
        _evaluate(model_version_id=mv.id, dataset=dataset_id, split="test")
    with session_scope() as s:
        latest = queries.latest_evaluations_on(session=s, dataset_id=dataset_id, split="test", family="anomaly")
    rows, ranking = leaderboard_rows(list(latest.values()), family="anomaly", task=None, split="test")
    assert ranking.name == "test/loss" and ranking.direction == "min"
    order = [r["version"] for r in rows]
    assert order.index(good.id) < order.index(poor.id), rows
    assert rows[0]["rank"] == 1


def test_refusals_name_the_value_and_queue_nothing(drawings):
    dataset_id, mv, _ = drawings
    before = _counts()
    with pytest.raises(LookupError, match="no model version with id 987654"):
        api.submit_evaluation(model_version_id=987654, dataset=dataset_id)
    with pytest.raises(EvaluationRefused, match=rf"model version {mv.id} is a anomaly model, not a transition one"):
        api.submit_evaluation(model_version_id=mv.id, dataset=dataset_id, family="transition")
    with pytest.raises(EvaluationRefused, match=r"split 'query'.*drawings-eval.*has no such split.*test, val"):
        api.submit_evaluation(model_version_id=mv.id, dataset=dataset_id, split="query")
    with pytest.raises(LookupError, match="no dataset 'no-such-data'"):
        api.submit_evaluation(model_version_id=mv.id, dataset="no-such-data")
    with pytest.raises(EvaluationRefused, match=r"episodes=0"):
        api.submit_evaluation(model_version_id=mv.id, dataset=dataset_id, options={"episodes": 0})
    with pytest.raises(LookupError, match="no checkpoint with id 987654"):
        api.submit_evaluation(checkpoint_id=987654, dataset=dataset_id)
    assert _counts() == before


TRANSITION = {"d_model": 16, "num_heads": 2, "num_layers": 1, "cnn_channels": 8, "batch_size": 16, "max_epochs": 3,
              "early_stop_patience": 0}


@pytest.fixture(scope="module")
def transitions(stack, worker):
    info = api.generate_sample_dataset("transitions", name="transitions-eval", groups=6, per_group=20, size=32,
                                       seed=1, timeout_s=120)
    run = wait_for_status(api.submit_run(family="transition", config=TRANSITION, dataset_id=info["dataset_id"]).id,
                          FINAL, timeout=300)
    assert run.status == RunStatus.completed, run.error
    return info["dataset_id"], _version(run.id), run


def test_transition_evaluation_gives_the_trainers_test_metrics(transitions):
    dataset_id, mv, run = transitions
    ev = _evaluate(model_version_id=mv.id, dataset=dataset_id, split="test")
    reported = mv.metrics
    names = ["test/main_task_loss", "test/mae_mean", *(f"test/mae_{a}" for a in ("x", "y", "z", "roll", "pitch", "yaw"))]
    print({n: (ev.metrics[n], reported[n]) for n in names})
    for name in names:
        assert _close(ev.metrics[name], reported[name], 1e-4), name
    patients = {r["patient"] for r in ev.tables["per_patient"]}
    assert patients == set(run.summary["split"]["test"])
    assert sum(r["transitions"] for r in ev.tables["per_patient"]) == ev.metrics["test/transitions"]


def test_a_dataset_of_another_kind_is_refused(transitions, drawings):
    dataset_id, mv, _ = transitions
    before = _counts()
    with pytest.raises(EvaluationRefused, match=r"dataset 'drawings-eval' is of kind 'drawings'; transition models "
                                                r"evaluate on 'transitions'"):
        api.submit_evaluation(model_version_id=mv.id, dataset="drawings-eval")
    assert _counts() == before


def test_a_checkpoint_evaluates_too(transitions):
    dataset_id, mv, run = transitions
    with session_scope() as s:
        ckpts = queries.checkpoints_newest_first(session=s, run_id=run.id)
    ck = next(c for c in ckpts if c.path == mv.artifact_path) if any(c.path == mv.artifact_path for c in ckpts) \
        else ckpts[0]
    ev = _evaluate(checkpoint_id=ck.id, dataset=dataset_id, split="val")
    assert ev.checkpoint_id == ck.id and ev.model_version_id is None
    assert math.isfinite(ev.metrics["val/main_task_loss"])


def test_the_cli_waits_and_prints_the_metrics_table(drawings, capsys):
    from cli import main

    _, mv, _ = drawings
    before = _counts()
    assert main(["evaluate", str(mv.id), "--dataset", "drawings-eval", "--split", "nope"]) == 2
    assert "split 'nope'" in capsys.readouterr().err and _counts() == before
    assert main(["evaluate", str(mv.id), "--dataset", "drawings-eval", "--split", "test", "--wait"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert f"anomaly model version {mv.id} on dataset" in lines[0] and "completed" in lines[0]
    assert lines[1].startswith("metric") and lines[2].startswith("test/loss") and lines[2].endswith("← ranks")
    assert f"{mv.metrics['test/loss']:.4f}" in lines[2]
    assert "file: plots/error_histogram.png" in out
