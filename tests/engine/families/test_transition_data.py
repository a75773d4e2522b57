"""The transitions dataset kind: validation problems per record, per-patient statistics, the gate,
and per-patient splits (hypothesis: no patient ever in two splits)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.families.transition.config import TransitionConfig
from engine.families.transition.data import scan
from engine.families.transition.samples import generate
from engine.families.transition.splits import SplitError, automatic_split, manual_split, split_counts
from jobs.inputs import dataset_ref


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("tr") / "data", groups=3, per_group=6, seed=3)


def _records(folder: Path, group: str) -> list[dict]:
    return json.loads((folder / group / "transitions_dataset.json").read_text())


def _write(folder: Path, group: str, records) -> None:
    (folder / group / "transitions_dataset.json").write_text(json.dumps(records))


def test_generated_data_scans_clean_with_per_group_stats(folder):
    report = scan(folder)
    assert not report.problems and len(report.samples) == 18
    assert report.summary["groups"] == {"patient_01": 6, "patient_02": 6, "patient_03": 6}
    stats = report.summary["action_stats"]
    assert set(stats) == {"x", "y", "z", "roll", "pitch", "yaw"} and stats["roll"]["max"] <= 12


def test_every_bad_record_is_one_problem_and_the_rest_imports(tmp_path):
    root = generate(tmp_path / "d", groups=2, per_group=6, seed=4)
    recs = _records(root, "patient_01")
    recs[0]["ft1_image_path"] = "../patient_02/ft1/0000.png"  # leaves the patient folder
    recs[1]["ft2_image_path"] = "ft2/missing.png"
    recs[2]["at1_6dof"] = [0, 0, 0, 0, 0]  # five numbers
    recs[3]["action_change_6dof"] = [0, 0, "x", 0, 0, 0]
    recs[4]["at2_6dof"] = [v + 5 for v in recs[4]["at2_6dof"]]  # inconsistent: a warning only
    (root / "patient_01" / "ft1" / "0005.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    _write(root, "patient_01", recs)
    (root / "notes").mkdir()
    report = scan(root)
    text = [str(p) for p in report.problems]
    assert any("record 0.ft1_image_path" in t and "outside the dataset folder" in t for t in text)
    assert any("ft2/missing.png" in t and "file not found" in t for t in text)
    assert any("record 2.at1_6dof: expected 6 numbers, got 5" in t for t in text)
    assert any("record 3.action_change_6dof" in t and "not a number" in t for t in text)
    assert any("record 4: warning: at2 differs" in t for t in text)
    assert any("patient_01/ft1/0005.png" in t and "not a readable image" in t for t in text)
    assert any(t.startswith("notes:") and "not a patient group" in t for t in text)
    assert len(report.samples) == 6 + 1  # patient_02 whole, patient_01 only the flagged record 4
    flagged = [s for s in report.samples if s.flags]
    assert [s.meta["index"] for s in flagged] == [4] and flagged[0].flags == ["inconsistent_at2"]


def test_a_json_alias_or_nesting_bomb_is_a_problem_not_a_crash(tmp_path):
    root = generate(tmp_path / "d", groups=1, per_group=2, seed=5)
    (root / "patient_01" / "transitions_dataset.json").write_text("[" * 500 + "]" * 500)
    report = scan(root)
    assert not report.samples and any("nested deeper" in str(p) for p in report.problems)


def test_split_counts_keep_one_group_per_split():
    assert split_counts(3, (0.7, 0.15, 0.15)) == (1, 1, 1)
    assert split_counts(8, (0.7, 0.15, 0.15)) == (6, 1, 1)
    assert split_counts(20, (0.7, 0.15, 0.15)) == (14, 3, 3)
    with pytest.raises(SplitError, match="at least 3"):
        split_counts(2, (0.7, 0.15, 0.15))


@settings(max_examples=200, deadline=None)
@given(n=st.integers(3, 60), seed=st.integers(0, 2**32 - 1),
       train=st.floats(0.1, 0.8), val=st.floats(0.05, 0.45))
def test_no_group_is_ever_in_two_splits(n, seed, train, val):
    test = max(1e-3, 1.0 - train - val)
    groups = [f"p{i}" for i in range(n)] * 3  # one entry per transition: groups repeat
    split = automatic_split(groups, (train, val, test), seed)
    names = [g for s in ("train", "val", "test") for g in split[s]]
    assert sorted(names) == sorted(set(groups)) and len(names) == n
    assert all(split[s] for s in ("train", "val", "test"))


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_overlapping_manual_lists_are_refused(data):
    groups = [f"p{i}" for i in range(data.draw(st.integers(3, 12)))]
    lists = [data.draw(st.lists(st.sampled_from(groups), min_size=1, max_size=4, unique=True)) for _ in range(3)]
    shared = set(lists[0]) & set(lists[1]) or set(lists[0]) & set(lists[2]) or set(lists[1]) & set(lists[2])
    if shared:
        with pytest.raises(SplitError, match="is in both"):
            manual_split(groups, *lists)
        with pytest.raises(ValueError, match="in both"):
            TransitionConfig(manual_splits=True, train_patients=lists[0], val_patients=lists[1], test_patients=lists[2])
    else:
        split = manual_split(groups, *lists)
        assert sorted(g for s in split.values() for g in s) == sorted(set().union(*lists))


def test_manual_lists_must_name_known_patients():
    with pytest.raises(SplitError, match="not a group of this dataset"):
        manual_split(["a", "b", "c"], ["a"], ["b"], ["z"])


def test_gate_blocks_too_few_patients_and_thin_patients(stack, tmp_path):
    from engine.configs import validate_config
    from engine.families import FAMILIES
    from jobs.datasets import generate_sample_job

    family = FAMILIES["transition"]
    two = generate_sample_job("transitions", "tr-two", {"groups": 2, "per_group": 4, "seed": 6})
    five = generate_sample_job("transitions", "tr-five", {"groups": 5, "per_group": 4, "seed": 7})
    cfg = validate_config(family, {})
    assert any("at least 3" in b for b in family.launch_blockers(dataset_ref(two["dataset_id"]), cfg))
    assert any("below min_samples_per_group=5" in b for b in family.launch_blockers(dataset_ref(five["dataset_id"]), cfg))
    assert family.launch_blockers(dataset_ref(five["dataset_id"]), validate_config(family, {"min_samples_per_group": 4})) == []
    manual = validate_config(family, {"manual_splits": True, "train_patients": "patient_01,patient_02",
                                      "val_patients": ["patient_03"], "test_patients": ["patient_09"],
                                      "min_samples_per_group": 1})
    assert any("patient_09" in b for b in family.launch_blockers(dataset_ref(five["dataset_id"]), manual))
