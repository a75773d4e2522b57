"""The market1501 kind: Market-1501 names, junk and distractor ids, bad files reported by name
while the rest imports, statistics, the overlap warning and the launch gate naming short ids."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from engine.families.reid.data import parse_name, scan
from engine.families.reid.samples import generate
from engine.families.reid.sufficiency import identity_stats, warnings
from jobs.inputs import dataset_ref


@pytest.mark.parametrize("name, expected", [
    ("0001_c1s1_000151_01.jpg", ("0001", 1, 1, 151, 1, None)),
    ("1501_c6s4_001902_02.jpg", ("1501", 6, 4, 1902, 2, None)),
    ("-1_c3s2_000076_03.jpg", ("-1", 3, 2, 76, 3, "junk")),
    ("0000_c2s1_000500_01.png", ("0000", 2, 1, 500, 1, "distractor")),
    ("0001_c0s1_000151_01.jpg", None),  # cameras count from 1
    ("001_c1s1_000151_01.jpg", None),
    ("0001_c1s1_151_01.jpg", None),
    ("0001_c1_000151_01.jpg", None),
    ("person.jpg", None),
])
def test_parse_name(name, expected):
    got = parse_name(name)
    assert (got and (got.pid, got.camera, got.sequence, got.frame, got.box, got.flag)) == expected


@pytest.fixture()
def sample(tmp_path):
    return generate(tmp_path / "m", identities=12, images_per_identity=3, distractors=2, junk=2, seed=4)


def test_generated_data_scans_clean_with_disjoint_ids_and_matches_from_other_cameras(sample):
    report = scan(sample)
    assert report.problems == []
    s = report.summary
    assert s["train_identities"] == 6 and s["test_identities"] == 6 and s["overlap_identities"] == []
    assert s["splits"] == {"train": 18, "gallery": 6 * 3 + 2 + 2, "query": 12}
    assert s["junk"] == 2 and s["distractors"] == 2 and s["query_missing_from_gallery"] == []
    stats = identity_stats(report.samples)
    assert stats.scorable_queries() == sorted(stats.ids("query"))
    assert all(len(c) >= 2 for c in stats.cameras["train"].values())
    junk = [r for r in report.samples if r.label == "-1"]
    assert len(junk) == 2 and all(r.flags == ["junk"] and r.split == "gallery" for r in junk)
    assert all(r.group_key == "identity" and r.meta["camera"] >= 1 for r in report.samples)


def test_bad_files_are_reported_by_name_and_the_rest_imports(sample, tmp_path):
    good = len(scan(sample).samples)
    first = sorted((sample / "bounding_box_train").glob("*.jpg"))[0]
    shutil.copy(first, sample / "bounding_box_train" / "person_17.jpg")
    shutil.copy(first, sample / "bounding_box_train" / "0001_c0s1_000151_01.jpg")
    shutil.copy(first, sample / "query" / "0001_c1s1_151_01.jpg")
    (sample / "query" / "0002_c1s1_000100_00.jpg").write_bytes(first.read_bytes()[:200])  # truncated
    (sample / "query" / "notes.txt").write_text("hello")
    (sample / "bounding_box_test" / "sub").mkdir()
    shutil.copy(first, sample / "bounding_box_test" / "sub" / first.name)
    outside = tmp_path / "outside.jpg"
    shutil.copy(first, outside)
    os.symlink(outside, sample / "bounding_box_test" / "0003_c1s1_000001_01.jpg")
    (sample / "gt_bbox").mkdir()
    (sample / "gt_bbox" / first.with_suffix(".txt").name).write_text("1 2 30 60\n")
    (sample / "gt_bbox" / "0002_c1s1_000100_01.txt").write_text("1 two\n")
    report = scan(sample)
    reasons = {p.path: p.reason for p in report.problems}
    assert "does not follow" in reasons["bounding_box_train/person_17.jpg"]
    assert "does not follow" in reasons["bounding_box_train/0001_c0s1_000151_01.jpg"]
    assert "does not follow" in reasons["query/0001_c1s1_151_01.jpg"]
    assert "not a readable image" in reasons["query/0002_c1s1_000100_00.jpg"]
    assert "not a .jpg" in reasons["query/notes.txt"]
    assert "flat" in reasons[f"bounding_box_test/sub/{first.name}"]
    assert "outside the dataset folder" in reasons["bounding_box_test/0003_c1s1_000001_01.jpg"]
    assert "four numbers" in reasons["gt_bbox/0002_c1s1_000100_01.txt"]
    assert len(report.problems) == 8
    assert len(report.samples) == good and report.summary["gt_bbox_boxes"] == 1


def test_missing_folders_and_the_nested_market_layout(tmp_path, sample):
    report = scan(tmp_path / "m" / "bounding_box_train")
    assert {p.path for p in report.problems} == {"bounding_box_train", "bounding_box_test", "query"}
    nested = tmp_path / "zip"
    shutil.copytree(sample, nested / "Market-1501-v15.09.15")
    report = scan(nested)
    assert report.problems == [] and report.summary["folder"] == "Market-1501-v15.09.15"
    assert report.samples[0].path.startswith("Market-1501-v15.09.15/")


def test_overlap_and_missing_query_identities_are_warned(sample):
    train_img = sorted((sample / "bounding_box_train").glob("*.jpg"))[0]
    pid = train_img.name[:4]
    shutil.copy(train_img, sample / "bounding_box_test" / train_img.name)
    shutil.copy(train_img, sample / "query" / f"{pid}_c4s1_000001_00.jpg")
    lone = sorted((sample / "query").glob("*.jpg"))[-1]
    for g in (sample / "bounding_box_test").glob(f"{lone.name[:4]}_*"):
        g.unlink()
    report = scan(sample)
    assert report.summary["overlap_identities"] == [pid]
    assert report.summary["query_missing_from_gallery"] == [lone.name[:4]]
    text = " ".join(warnings(identity_stats(report.samples), min_identities=2))
    assert f"appear in both train and test ({pid})" in text
    assert f"cannot be scored: {lone.name[:4]}" in text


def test_gate_names_the_identities_a_triplet_batch_cannot_fill(stack):
    from engine.families import FAMILIES
    from engine.families.reid.config import ReidConfig
    from jobs.datasets import import_dataset
    from settings import get_settings

    root = generate(get_settings().resolved_data_root / "reid-gate", identities=24, images_per_identity=4, seed=2)
    files = sorted((root / "bounding_box_train").glob("*.jpg"))
    short = files[0].name[:4]
    for f in files[1:]:
        if f.name.startswith(short):
            f.unlink()  # one image left
    dataset, report = import_dataset(name="reid-gate", kind="market1501", root=root, replace=True)
    assert not report.problems
    family = FAMILIES["reid"]
    assert family.launch_blockers(dataset_ref(dataset.id), ReidConfig(min_identities=12, min_images_per_identity=1)) == []
    blockers = family.launch_blockers(dataset_ref(dataset.id), ReidConfig(loss="triplet", num_instances=4, batch_size=64))
    text = "\n".join(blockers)
    assert f"1 train identities below min_images_per_identity=2: {short} (1 image)" in text
    assert f"num_instances=4 images of each identity; 1 train identities have fewer: {short} (1 image)" in text
    assert "12 train identities, below min_identities" not in text
    assert "needs 16 train identities; the dataset has 12" in text
    assert any("below min_identities=20" in b for b in family.launch_blockers(dataset_ref(dataset.id), ReidConfig(min_identities=20)))


def test_sample_data_cli_imports_a_market1501_dataset(stack):
    from cli import main
    from db import queries
    from db.session import session_scope

    assert main(["sample-data", "market1501", "--name", "reid-cli", "--identities", "10",
                 "--images-per-identity", "3"]) == 0
    with session_scope() as s:
        ds = queries.get_dataset_by_name(session=s, name="reid-cli")
        samples = queries.dataset_samples(session=s, dataset_id=ds.id)
    assert ds.kind == "market1501" and ds.summary["train_identities"] == 5
    assert Path(ds.root).is_relative_to(stack) and len(samples) == ds.summary["samples"]
