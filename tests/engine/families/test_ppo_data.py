"""The logos kind: folder → category mapping, quality flags with reasons, per-category splits,
problems per bad file, and the analysis cache that makes a rescan analyse nothing."""
from __future__ import annotations

import os

import numpy as np
from PIL import Image

from engine.families.ppo.config import PpoConfig
from engine.families.ppo.data import scan
from engine.families.ppo.samples import generate
from engine.families.ppo.sufficiency import category_stats, launch_blockers, warnings
from jobs.datasets import import_dataset
from jobs.inputs import dataset_ref
from settings import get_settings


def test_sample_logos_map_to_categories_split_per_category_and_flag_the_blank_one(tmp_path):
    root = generate(tmp_path / "logos", count=5, size=48)
    report = scan(root)
    assert not report.problems
    assert report.summary["mapping"] == {"abstract": "complex", "complex": "complex", "gradients": "gradient",
                                         "simple_geometric": "simple", "text_based": "text"}
    assert report.summary["categories"] == {"simple": 5, "text": 5, "gradient": 5, "complex": 5}
    for split, n in (("train", 3), ("val", 1), ("test", 1)):
        assert report.summary["splits"][split] == {c: n for c in ("simple", "text", "gradient", "complex")}
    blank = next(s for s in report.samples if s.path.endswith("blank_flat.png"))
    assert blank.flags == ["unusable"] and blank.split is None
    assert blank.meta["usable"] is False and "single flat colour" in blank.meta["reason"]
    gradients = [s.meta for s in report.samples if s.label == "gradient"]
    simple = [s.meta for s in report.samples if s.label == "simple" and s.meta["usable"]]
    assert min(m["colours"] for m in gradients) > max(m["colours"] for m in simple)  # analysis sees the difference
    assert all({"sharpness", "contrast", "colours", "complexity", "width", "height"} <= set(m) for m in simple)


def test_mapping_file_bad_files_and_unknown_folders_are_problems_the_rest_imports(tmp_path):
    root = tmp_path / "logos"
    for folder in ("marks", "wordmarks", "mystery"):
        (root / folder).mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(root / "marks" / f"m{i}.png")
    Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(root / "wordmarks" / "w.png")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8) + 9).save(root / "wordmarks" / "tiny.png")
    (root / "wordmarks" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    (root / "wordmarks" / "notes.txt").write_text("hi")
    (root / "mystery" / "x.png").write_bytes((root / "wordmarks" / "w.png").read_bytes())
    outside = tmp_path / "outside.png"
    Image.new("RGB", (40, 40), "red").save(outside)
    os.symlink(outside, root / "marks" / "escape.png")
    (root / "categories.yaml").write_text("marks: simple\nwordmarks: text\nbogus: sparkly\n")
    report = scan(root)
    problems = {p.path: p for p in report.problems}
    assert "outside the dataset folder" in problems["marks/escape.png"].reason
    assert "not a readable image" in problems["wordmarks/broken.png"].reason
    assert "not an image file" in problems["wordmarks/notes.txt"].reason
    assert "not a known category" in problems["mystery/"].reason
    assert problems["categories.yaml"].field == "bogus"
    cats = {s.path: (s.label, s.meta["usable"], s.meta["reason"]) for s in report.samples}
    assert cats["marks/m0.png"] == ("simple", True, None) and cats["wordmarks/w.png"][:2] == ("text", True)
    assert cats["wordmarks/tiny.png"][1] is False and "too small" in cats["wordmarks/tiny.png"][2]


def test_second_import_reuses_the_stored_analysis(stack):
    root = generate(get_settings().resolved_data_root / "ppo-cache", count=3, size=32)
    dataset, first = import_dataset(name="ppo-cache", kind="logos", root=root)
    assert first.summary["analysed"] == len(first.samples) == 13 and first.summary["cached"] == 0
    Image.new("RGB", (32, 32), "white").save(root / "gradients" / "gradients_000.png")  # one file changes
    _, second = import_dataset(name="ppo-cache", kind="logos", root=root, replace=True)
    assert second.summary["analysed"] == 1 and second.summary["cached"] == 12
    changed = next(s for s in second.samples if s.path == "gradients/gradients_000.png")
    assert changed.meta["usable"] is False  # the new content was analysed, not the cached one


def test_sufficiency_counts_and_launch_gate(stack):
    root = generate(get_settings().resolved_data_root / "ppo-short", count=2, size=32)
    dataset, report = import_dataset(name="ppo-short", kind="logos", root=root)
    stats = {s.category: s for s in category_stats(report.samples)}
    assert stats["simple"].usable == 2 and stats["simple"].unusable == 1
    assert any("below 3" in w for w in warnings(list(stats.values()), min_per_category=3))
    blockers = launch_blockers(dataset_ref(dataset.id), PpoConfig(min_images_per_category=3))
    assert len([b for b in blockers if b.startswith("category")]) == 4
    assert any("test split" in b for b in blockers)  # two images per category leave the test split empty
    assert launch_blockers(dataset_ref(dataset.id), PpoConfig(min_images_per_category=2)) == [
        "no usable image in the test split; add images so each category has three or more"]


def test_split_ratios_are_import_settings_checked_with_the_setting_named(tmp_path, stack):
    import pytest

    root = generate(get_settings().resolved_data_root / "ppo-ratios", count=10, size=32)
    report = scan(root, val_ratio=0.3, test_ratio=0.0)
    assert report.summary["split_ratios"] == {"train": 0.7, "val": 0.3, "test": 0.0}
    for cat in ("simple", "text", "gradient", "complex"):
        n = report.summary["categories"][cat]
        assert report.summary["splits"]["val"][cat] == max(1, round(n * 0.3)) and not report.summary["splits"]["test"].get(cat)
    for bad, name in (({"val_ratio": 0.8}, "val_ratio"), ({"test_ratio": "lots"}, "test_ratio"),
                      ({"val_ratio": float("nan")}, "val_ratio")):
        with pytest.raises(ValueError, match=name):
            scan(root, **bad)
    from cli import main

    assert main(["import", "logos", str(root), "--name", "ppo-ratios", "--val-ratio", "0.2", "--test-ratio", "0.2"]) == 0
    with_ratios = dataset_ref(next(d.id for d in _datasets() if d.name == "ppo-ratios"))
    assert with_ratios.summary["split_ratios"]["test"] == 0.2


def _datasets():
    from db import queries
    from db.session import session_scope

    with session_scope() as s:
        return queries.list_datasets(session=s)
