"""Evaluation of yolo, reid and ppo models on a real queue and worker, at the shared family
tests' tiny sizes (``Family.conformance``): the evaluator gives the metrics the trainer reported
for the same weights and split, through the library's own evaluator (Ultralytics ``val``,
torchreid's ranking, the family's episode loop against VTracer's defaults)."""
from __future__ import annotations

import math

import pytest

from db import queries
from db.models import RunStatus
from db.session import session_scope
from engine.core import EvaluationRefused
from engine.families import FAMILIES
from jobs import api
from tests.conftest import wait_for_status

FINAL = [RunStatus.completed, RunStatus.failed, RunStatus.cancelled]
# same weights, same images, same library call as the trainer's own test / validation: equal up
# to float rounding
TOLERANCE = 1e-5
KINDS = {"yolo": "yolo", "reid": "market1501", "ppo": "logos"}


def _trained(family: str, config: dict | None = None, sample: dict | None = None):
    conf = FAMILIES[family].conformance
    info = api.generate_sample_dataset(KINDS[family], name=f"{family}-eval", timeout_s=300,
                                       **(sample or conf.sample_options))
    run = wait_for_status(api.submit_run(family=family, config=config or dict(conf.config),
                                         dataset_id=info["dataset_id"]).id, FINAL, timeout=600)
    assert run.status == RunStatus.completed, run.error
    with session_scope() as s:
        (mv,) = queries.model_versions_for_runs(session=s, run_ids=[run.id])
    return info["dataset_id"], mv


def _evaluate(**kwargs):
    ev = api.wait_for_evaluation(api.submit_evaluation(**kwargs).id, timeout_s=600)
    assert ev.status == "completed", ev.error
    print(f"evaluation {ev.id} ({ev.family} {ev.split}): {ev.duration_s:.2f} s on the worker")
    return ev


def _same(got: dict, reported: dict, pairs: dict[str, str]) -> None:
    print({g: (got.get(g), reported.get(r)) for g, r in pairs.items()})
    for g, r in pairs.items():
        assert math.isclose(got[g], reported[r], rel_tol=TOLERANCE, abs_tol=TOLERANCE), (g, got[g], r, reported[r])


# classify: a tiny detector trained for seconds on 32 px images finds nothing (mAP 0 in the trainer and
# in the evaluator alike, an equality that could not fail); top-1 of a classifier depends on its weights
YOLO_CLASSIFY = {"task": "classify", "epochs": 2, "imgsz": 32, "batch": 8, "workers": 0, "device": "cpu",
                 "min_per_class": 0}


def test_yolo_val_on_the_test_split_gives_the_trainers_test_metrics(stack, worker):
    dataset_id, mv = _trained("yolo", YOLO_CLASSIFY, {"task": "classify", "count": 40, "size": 32, "seed": 2})
    ev = _evaluate(model_version_id=mv.id, dataset=dataset_id, split="test")
    _same(ev.metrics, mv.metrics, {"test/top1": "test/top1", "test/top5": "test/top5",
                                   "test/images": "data/test_images"})
    files = {a["path"] for a in ev.artifacts}
    assert any("confusion_matrix" in f for f in files), files
    # a detect dataset cannot evaluate a classify model: refused, naming both
    api.generate_sample_dataset("yolo", name="yolo-detect-eval", task="detect", count=6, size=32, timeout_s=120)
    with pytest.raises(EvaluationRefused, match=r"'yolo-detect-eval' holds detect data; a yolo classify model"):
        api.submit_evaluation(model_version_id=mv.id, dataset="yolo-detect-eval")


def test_reid_ranking_gives_the_trainers_rank_metrics(stack, worker):
    dataset_id, mv = _trained("reid")
    ev = _evaluate(model_version_id=mv.id, dataset=dataset_id, split="test")
    _same(ev.metrics, mv.metrics, {f"test/{k}": f"val/{k}" for k in ("rank1", "rank5", "rank10", "rank20", "mAP")})
    with pytest.raises(EvaluationRefused, match=r"split 'val'.*reid-eval.*has no such split.*it has test"):
        api.submit_evaluation(model_version_id=mv.id, dataset=dataset_id, split="val")
    # torchreid's options: re-ranking changes the distances (not the protocol), visrank draws ranked lists
    reranked = _evaluate(model_version_id=mv.id, dataset=dataset_id, split="test", options={"rerank": 1, "visrank": 2})
    assert 0 <= reranked.metrics["test/rank1"] <= 1 and 0 < reranked.metrics["test/mAP"] <= 1
    ranked = [a["path"] for a in reranked.artifacts if a["path"].startswith("visrank/")]
    assert len(ranked) == 2 and all(p.endswith((".jpg", ".png")) for p in ranked)
    with pytest.raises(EvaluationRefused, match="visrank"):
        api.submit_evaluation(model_version_id=mv.id, dataset=dataset_id, split="test", options={"visrank": 1000})


def test_ppo_episodes_give_the_trainers_test_metrics_and_a_spread(stack, worker):
    dataset_id, mv = _trained("ppo")
    ev = _evaluate(model_version_id=mv.id, dataset=dataset_id, split="test")
    _same(ev.metrics, mv.metrics, {k: k for k in ("test/ssim", "test/success_rate", "test/default_ssim")})
    several = _evaluate(model_version_id=mv.id, dataset=dataset_id, split="test", options={"episodes": 3})
    assert several.metrics["test/episodes"] == 3
    assert several.metrics["test/ssim_std"] >= 0 and "test/episode_ssim_std" in several.metrics
    cats = {r["category"] for r in several.tables["per_category"]}
    assert cats and all(r["episodes"] == 3 * r["images"] for r in several.tables["per_category"])
    assert all(f"test/{c}/default_ssim" in several.metrics for c in cats)
