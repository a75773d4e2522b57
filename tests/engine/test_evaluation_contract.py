"""The evaluation part of the engine contract, as pure functions: which headline ranks an
evaluation on a split, which splits a dataset offers a family's model, and the refusals."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.core import DatasetRef, EvaluationRefused
from engine.families import FAMILIES


def ds(kind: str, **summary) -> DatasetRef:
    return DatasetRef(name=f"d-{kind}", kind=kind, root=Path("/nowhere"), id=1, summary=summary)


@pytest.mark.parametrize("family,task,split,name,direction,label", [
    ("yolo", "detect", "test", "test/mAP50-95", "max", "mAP50-95"),
    ("yolo", "classify", "val", "val/top1", "max", "top-1 accuracy"),
    ("anomaly", None, "held-out", "held-out/loss", "min", "held-out reconstruction loss"),
    ("transition", None, "test", "test/main_task_loss", "min", "test main-task loss"),
    ("reid", None, "test", "test/rank1", "max", "rank-1"),
    ("ppo", None, "val", "val/ssim", "max", "mean SSIM reached"),
])
def test_the_ranking_headline_follows_the_split(family, task, split, name, direction, label):
    h = FAMILIES[family].ranking(task, split)
    assert (h.name, h.direction, h.label) == (name, direction, label)


def test_every_built_in_family_has_an_evaluator():
    for key in ("anomaly", "yolo", "reid", "ppo", "transition"):
        assert FAMILIES[key].evaluator_path and FAMILIES[key].eval_splits_path, key


def test_splits_come_from_the_dataset_and_bad_ones_are_refused():
    yolo = FAMILIES["yolo"]
    assert yolo.evaluation_splits(ds("yolo", task="detect", splits={"train": 8, "val": 2, "test": 0}),
                                  "detect") == ("train", "val")
    with pytest.raises(EvaluationRefused, match=r"'d-yolo' holds segment data; a yolo classify model"):
        yolo.evaluation_splits(ds("yolo", task="segment", splits={"train": 8}), "classify")
    with pytest.raises(EvaluationRefused, match=r"'d-logos' is of kind 'logos'; yolo models evaluate on 'yolo'"):
        yolo.evaluation_splits(ds("logos"), "detect")
    assert FAMILIES["transition"].evaluation_splits(ds("transitions", n_groups=2)) == ("all",)
    assert FAMILIES["transition"].evaluation_splits(ds("transitions", n_groups=6)) == ("test", "val", "train", "all")
    assert FAMILIES["reid"].evaluation_splits(ds("market1501", splits={"query": 3, "gallery": 9})) == ("test",)
    assert FAMILIES["reid"].evaluation_splits(ds("market1501", splits={"train": 3})) == ()
    assert FAMILIES["ppo"].evaluation_splits(ds("logos", splits={"train": {"simple": 2}, "val": {}, "test": {"text": 1}})) \
        == ("train", "test")
    assert "held-out" in FAMILIES["anomaly"].evaluation_splits(ds("drawings"))
