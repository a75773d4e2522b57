"""The drawings kind: scan, problems by name and reason, import, re-import, sufficiency maths."""
from __future__ import annotations

import csv
from types import SimpleNamespace

from PIL import Image

from db import queries
from db.session import session_scope
from engine.families.anomaly.config import AgeRange
from engine.families.anomaly.data import scan
from engine.families.anomaly.samples import generate
from engine.families.anomaly.splits import stratified_split
from engine.families.anomaly.sufficiency import auto_age_groups, flag_counts, group_stats, launch_blockers, merge_suggestions
from jobs.datasets import import_dataset
from jobs.inputs import dataset_ref
from settings import get_settings


def _plant_problems(root):
    """A corrupt image, a row whose file is missing, an age outside 2-18, a blank and a tiny image."""
    (root / "images" / "drawing_0001.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    Image.new("RGB", (64, 64), "white").save(root / "images" / "blank.png")
    tiny = Image.new("RGB", (16, 16), "white")
    tiny.paste((0, 0, 0), (0, 0, 8, 16))
    tiny.save(root / "images" / "tiny.png")
    rows = list(csv.DictReader(open(root / "metadata.csv")))
    rows[2]["age_years"] = "25"
    rows += [{"filename": "images/missing.png", "age_years": "5", "subject": "house", "expert_label": "normal"},
             {"filename": "images/blank.png", "age_years": "5", "subject": "house", "expert_label": ""},
             {"filename": "images/tiny.png", "age_years": "7", "subject": "sun", "expert_label": "normal"}]
    with open(root / "metadata.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return rows


def test_each_bad_file_or_row_is_reported_by_name_and_reason_and_the_rest_imports(stack):
    root = generate(get_settings().resolved_data_root / "drawings-problems", count=30, seed=3)
    rows = _plant_problems(root)
    dataset, report = import_dataset(name="drawings-problems", kind="drawings", root=root)
    by_path = {p.path: p.reason for p in report.problems}
    assert "corrupt or unreadable image" in by_path["images/drawing_0001.png"]
    assert "file not found" in by_path["images/missing.png"]
    assert "age 25 is outside the accepted 2-18 years" in by_path[rows[2]["filename"]]
    assert len(report.problems) == 3, report.problems
    assert len(report.samples) == 30 - 2 + 2  # two bad generated rows out, blank and tiny in (flagged)
    flags = {s.path: s.flags for s in report.samples}
    assert flags["images/blank.png"] == ["blank"] and flags["images/tiny.png"] == ["tiny"]
    with session_scope() as s:
        stored = queries.dataset_samples(session=s, dataset_id=dataset.id)
        assert len(stored) == 30
        assert flag_counts(stored) == {"blank": 1, "tiny": 1}
        summary = queries.get_dataset(session=s, dataset_id=dataset.id).summary
    assert any("drawing_0001.png" in p and "corrupt" in p for p in summary["problems"])


def test_reimport_keeps_sample_ids_of_unchanged_files(stack):
    root = generate(get_settings().resolved_data_root / "drawings-reimport", count=12, seed=4)
    dataset, _ = import_dataset(name="drawings-reimport", kind="drawings", root=root)
    with session_scope() as s:
        before = {smp.path: smp.id for smp in queries.dataset_samples(session=s, dataset_id=dataset.id)}
        queries.store_embeddings(session=s, backbone="b", rows=[(i, 1, b"\0\0\0\0") for i in before.values()])
    (root / "images" / "drawing_0000.png").unlink()
    Image.new("RGB", (64, 64), "red").save(root / "images" / "drawing_0001.png")  # same path, new content
    import_dataset(name="drawings-reimport", kind="drawings", root=root, replace=True)
    with session_scope() as s:
        after = {smp.path: smp.id for smp in queries.dataset_samples(session=s, dataset_id=dataset.id)}
        assert queries.count_embeddings(session=s, dataset_id=dataset.id, backbone="b") == 10
    assert "images/drawing_0000.png" not in after
    assert all(after[p] == before[p] for p in after)


def test_scan_without_metadata_says_so(tmp_path):
    Image.new("RGB", (64, 64), "white").save(tmp_path / "a.png")
    report = scan(tmp_path)
    assert not report.samples
    assert any("no metadata.csv" in p.reason for p in report.problems)
    assert any(p.path == "a.png" for p in report.problems)


def _samples(ages, label="normal"):
    return [SimpleNamespace(group_value=a, label=label, flags=[], meta={"subject": "sun"}) for a in ages]


def test_automatic_groups_and_merge_suggestions():
    ages = [3.5] * 30 + [4.5] * 30 + [5.5] * 5 + [6.5] * 60 + [7.2] * 4
    groups = auto_age_groups(ages, target=50)
    assert [g.label for g in groups] == ["3-5", "5-8"]
    stats = group_stats(_samples(ages) + _samples([3.1], "anomalous"),
                        [AgeRange(3, 4), AgeRange(4, 5), AgeRange(5, 6), AgeRange(6, 7), AgeRange(7, 8)])
    assert [(s.normal, s.anomalous) for s in stats] == [(30, 1), (30, 0), (5, 0), (60, 0), (4, 0)]
    merges = merge_suggestions(stats, min_samples=10)
    assert [(m.groups, m.merged, m.normal, m.enough) for m in merges] == [
        (("4-5", "5-6"), "4-6", 35, True), (("6-7", "7-8"), "6-8", 64, True)]


def test_merge_prefers_the_smaller_neighbour_and_stops_at_gaps():
    stats = group_stats(_samples([3.5] * 8 + [4.5] * 3 + [5.5] * 40 + [9.5] * 2),
                        [AgeRange(3, 4), AgeRange(4, 5), AgeRange(5, 6), AgeRange(9, 10)])
    merges = merge_suggestions(stats, min_samples=10)
    assert [str(m) for m in merges] == ["merge 3-4 + 4-5 into 3-5: 11 normal drawings (enough)"]


def test_stratified_split_keeps_every_year_in_proportion():
    ages = [3.2] * 20 + [4.7] * 20 + [5.1] * 10
    train, val, test = stratified_split(ages, (0.7, 0.2, 0.1), seed=1)
    assert sorted(train + val + test) == list(range(50))
    assert (len(train), len(val), len(test)) == (35, 10, 5)
    assert sum(1 for i in val if ages[i] == 3.2) == 4
    assert stratified_split(ages, (0.7, 0.2, 0.1), seed=1) == (train, val, test)


def test_launch_gate_names_the_short_group(stack):
    root = generate(get_settings().resolved_data_root / "drawings-gate", count=20, seed=5)
    dataset, _ = import_dataset(name="drawings-gate", kind="drawings", root=root)
    from engine.configs import validate_config
    from engine.families import FAMILIES

    family = FAMILIES["anomaly"]
    ok = validate_config(family, {"age_group": "3-12", "min_samples": 5})
    short = validate_config(family, {"age_group": "3-4", "min_samples": 50})
    assert family.launch_blockers(dataset_ref(dataset.id), ok) == []
    (reason,) = launch_blockers(dataset_ref(dataset.id), short)
    assert reason.startswith("age group 3-4 has") and "below min_samples=50" in reason
