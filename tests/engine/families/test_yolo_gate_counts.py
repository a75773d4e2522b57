"""The yolo gate counts what its message says: training images per class, and a task the data
cannot train is a ``TaskMismatch``, not a shortage."""
from __future__ import annotations

from types import SimpleNamespace

from engine.core import TaskMismatch
from engine.families.yolo.sufficiency import dataset_stats, warnings


def _sample(split: str, label: str) -> SimpleNamespace:
    return SimpleNamespace(split=split, label=label, meta={"instances": {label: 1}, "boxes": []})


def test_min_per_class_counts_train_images_only():
    samples = [_sample("train", "cat")] * 3 + [_sample("val", "cat")] * 5 + [_sample("test", "cat")] * 5
    stats = dataset_stats(samples, ["cat"])
    (cat,) = stats.classes
    assert cat.total_images == 13 and cat.train_images == 3
    warns = warnings(stats, min_per_class=4)
    assert any("'cat' has 3 training image(s); at least 4" in w for w in warns)
    assert not any("training image" in w for w in warnings(stats, min_per_class=3))


def test_gate_names_training_images_and_marks_the_task_mismatch(stack):
    from engine.families import FAMILIES
    from engine.families.yolo.config import YoloConfig
    from jobs.datasets import generate_sample_job
    from jobs.inputs import dataset_ref

    dataset_id = generate_sample_job("yolo", "gate-counts", {"task": "detect", "count": 12, "size": 32})["dataset_id"]
    from db import queries
    from db.session import session_scope

    with session_scope() as s:
        samples = queries.dataset_samples(session=s, dataset_id=dataset_id)
    train = dataset_stats(samples).classes
    blockers = FAMILIES["yolo"].launch_blockers(dataset_ref(dataset_id), YoloConfig(task="classify", min_per_class=100))
    mismatches = [b for b in blockers if isinstance(b, TaskMismatch)]
    assert len(mismatches) == 1 and "cannot train task 'classify'" in mismatches[0]
    counts = [b for b in blockers if not isinstance(b, TaskMismatch)]
    assert counts == [f"class {c.name!r} has {c.train_images} training image(s), below min_per_class=100"
                      for c in train]
    assert any(c.train_images < c.total_images for c in train)  # the sample data has val/test images too
