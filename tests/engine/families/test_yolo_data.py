"""The yolo dataset kind: sample data, validation by file and line, splits, sufficiency, import."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from engine.families.yolo.data import scan
from engine.families.yolo.prepare import build_training_view, split_train_val
from engine.families.yolo.samples import generate
from engine.families.yolo.sufficiency import box_size_bins, dataset_stats, warnings
from tests.fixtures.yolo_data import broken_expectations, make_broken_segment


@pytest.mark.parametrize("task", ["detect", "segment", "classify"])
def test_generated_sample_data_scans_clean(tmp_path, task):
    root = generate(tmp_path / task, task=task, count=20, size=64)
    report = scan(root)
    assert report.problems == []
    assert report.summary["task"] == task
    assert report.summary["names"] == ["circle", "square", "triangle"]
    assert report.summary["splits"] == {"train": 14, "val": 4, "test": 2}
    assert len(report.samples) == 20 and all(s.group_key == "class" and s.label for s in report.samples)
    if task != "classify":
        s = report.samples[0]
        assert sum(s.meta["instances"].values()) == len(s.meta["boxes"]) >= 1
        assert all(0 < w <= 1 and 0 < h <= 1 for w, h in s.meta["boxes"])


def test_generated_boxes_are_exact(tmp_path):
    """Each box encloses its polygon: detect boxes equal the segment polygons' extents (same seed)."""
    det = generate(tmp_path / "d", task="detect", count=6, size=64, seed=5)
    seg = generate(tmp_path / "s", task="segment", count=6, size=64, seed=5)
    for lbl in sorted((det / "labels").rglob("*.txt")):
        boxes = [list(map(float, ln.split())) for ln in lbl.read_text().splitlines()]
        polys = [list(map(float, ln.split())) for ln in (seg / lbl.relative_to(det)).read_text().splitlines()]
        for b, p in zip(boxes, polys, strict=True):
            xs, ys = p[1::2], p[2::2]
            assert b[0] == p[0]
            assert b[1:] == pytest.approx([(min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2,
                                           max(xs) - min(xs), max(ys) - min(ys)], abs=2e-6)


def test_broken_labels_are_reported_by_file_and_line(tmp_path):
    root = make_broken_segment(tmp_path / "broken")
    expected = broken_expectations(root)
    report = scan(root)
    for path, line, words in expected:
        hits = [p for p in report.problems if p.path == path and words in p.reason]
        assert hits, f"{path}: no problem with {words!r} in {[str(p) for p in report.problems]}"
        assert line is None or hits[0].line == line, str(hits[0])
    assert next(p for p in report.problems if p.path == "data.yaml").field == "path"
    kept = {s.path for s in report.samples}
    assert not kept & {f"images/train/{i:05d}.png" for i in range(6)}
    assert len(kept) == 30 - 6 and report.summary["excluded_images"] == 6
    assert report.summary["task"] == "segment"


def test_data_yaml_missing_keys_and_classify_layout_problems(tmp_path):
    root = generate(tmp_path / "d", task="detect", count=10, size=64)
    (root / "data.yaml").write_text(yaml.safe_dump({"val": "images/val", "test": "../outside"}))
    report = scan(root)
    fields = {(p.field, p.reason.split(" (")[0]) for p in report.problems if p.path == "data.yaml"}
    assert ("names", "missing key") in fields and ("train", "missing key") in fields
    assert any(p.field == "test" and "outside the dataset folder" in p.reason for p in report.problems)

    cls = generate(tmp_path / "c", task="classify", count=12, size=64)
    shutil.copy(next((cls / "train" / "circle").glob("*.png")), cls / "train" / "stray.png")
    (cls / "train" / "square" / "broken.png").write_bytes(b"\x89PNG nope")
    (cls / "val" / "hexagon").mkdir()
    shutil.copy(next((cls / "val" / "circle").glob("*.png")), cls / "val" / "hexagon" / "h.png")
    report = scan(cls)
    reasons = {p.path: p.reason for p in report.problems}
    assert reasons["train/stray.png"] == "image outside a class folder"
    assert reasons["train/square/broken.png"].startswith("unreadable image")
    assert "no training images" in reasons["val/hexagon"]


def test_missing_val_split_is_split_by_ratio_and_seed(tmp_path):
    root = generate(tmp_path / "d", task="detect", count=30, size=64)
    shutil.rmtree(root / "images" / "val")
    shutil.rmtree(root / "labels" / "val")
    data = yaml.safe_load((root / "data.yaml").read_text())
    del data["val"]
    (root / "data.yaml").write_text(yaml.safe_dump(data))
    report = scan(root)
    assert not report.summary["has_val"] and report.problems == []
    view, sizes = build_training_view(report, tmp_path / "view", train_ratio=0.75, seed=7)
    assert sizes["train"] == round(21 * 0.75) and sizes["train"] + sizes["val"] == 21 and sizes["test"] == 3
    first = (tmp_path / "view" / "val.txt").read_text()
    build_training_view(report, tmp_path / "view", train_ratio=0.75, seed=7)
    assert (tmp_path / "view" / "val.txt").read_text() == first
    assert split_train_val([f"{i}" for i in range(10)], train_ratio=0.8, seed=1) != \
        split_train_val([f"{i}" for i in range(10)], train_ratio=0.8, seed=2)
    assert yaml.safe_load(view.read_text())["names"] == {0: "circle", 1: "square", 2: "triangle"}


def test_sufficiency_counts_warnings_and_box_sizes(tmp_path):
    report = scan(generate(tmp_path / "d", task="detect", count=30, size=64))
    stats = dataset_stats(report.samples, report.summary["names"])
    assert [c.name for c in stats.classes] == ["circle", "square", "triangle"]
    assert sum(c.total_instances for c in stats.classes) == report.summary["instances"]
    assert stats.images_per_split == report.summary["splits"]
    assert sum(box_size_bins(stats.box_sides).values()) == report.summary["instances"]
    rows = stats.rows()
    assert {r["split"] for r in rows} == {"train", "val", "test"}
    warns = warnings(stats, min_per_class=100)
    assert sum("at least 100 are recommended" in w for w in warns) == 3
    assert not any("recommended" in w for w in warnings(stats, min_per_class=1))


def test_sample_data_cli_imports_and_gate_blocks(stack):
    from db import queries
    from db.session import session_scope
    from engine.cli import main
    from engine.families import FAMILIES
    from engine.families.yolo.config import YoloConfig
    from jobs.inputs import dataset_ref

    assert main(["sample-data", "yolo", "--name", "cli-detect", "--task", "detect", "--count", "12",
                 "--size", "64"]) == 0
    with session_scope() as s:
        ds = queries.get_dataset_by_name(session=s, name="cli-detect")
        samples = queries.dataset_samples(session=s, dataset_id=ds.id)
    assert ds.kind == "yolo" and ds.summary["task"] == "detect" and len(samples) == 12
    assert Path(ds.root).is_relative_to(stack)
    assert all(s.meta["boxes"] for s in samples)
    family = FAMILIES["yolo"]
    assert family.launch_blockers(dataset_ref(ds.id), YoloConfig(min_per_class=0)) == []
    blockers = family.launch_blockers(dataset_ref(ds.id), YoloConfig(task="classify"))
    assert any("cannot train task 'classify'" in b for b in blockers)
    assert sum("below min_per_class=100" in b for b in blockers) == 3
