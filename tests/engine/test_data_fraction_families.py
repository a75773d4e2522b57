"""data_fraction in each family, without training: the gate names the group a fraction leaves
below its minimum, and where a family builds its training split the subset is stratified by the
family's group and the same for the same seed (validation untouched)."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from engine.core import DatasetRef, SampleRow
from engine.datasets import ScanReport
from engine.families import FAMILIES
from engine.families.reid.loaders import split_samples
from engine.families.yolo.prepare import build_training_view


def _ref(kind: str, rows: list[SampleRow], summary: dict | None = None) -> DatasetRef:
    return DatasetRef(name="d", kind=kind, root=Path("/nonexistent"), id=1, summary=summary or {}, samples=tuple(rows))


def _config(key: str, **data):
    return FAMILIES[key].config_model(**data)


def _blockers(key: str, ref: DatasetRef, **data) -> list[str]:
    return FAMILIES[key].launch_blockers(ref, _config(key, **data))


def test_ppo_gate_names_the_category_a_fraction_leaves_short():
    rows = [SampleRow(id=i, path=f"{cat}/{i}.png", label=cat, split=split, meta={"usable": True})
            for cat, n_train in (("simple", 40), ("text", 6)) for i, split in
            enumerate(["val", "test"] + ["train"] * n_train)]
    cfg = {"curriculum_order": ["simple", "text"], "min_images_per_category": 5}
    assert _blockers("ppo", _ref("logos", rows), **cfg) == []
    reasons = _blockers("ppo", _ref("logos", rows), **cfg, data_fraction=0.25)
    assert reasons and all("data_fraction=0.25" in r for r in reasons) and any("category text" in r for r in reasons)
    assert not any("category simple" in r for r in reasons)


def test_yolo_gate_and_training_view_keep_every_class_and_the_same_files(tmp_path):
    rows = [SampleRow(id=i, path=f"train/{cls}/{i}.png", label=cls, split="train")
            for cls, n in (("cat", 40), ("dog", 8)) for i in range(n)]
    rows += [SampleRow(id=100 + i, path=f"val/cat/{i}.png", label="cat", split="val") for i in range(3)]
    summary = {"task": "classify", "names": ["cat", "dog"]}
    (reason,) = _blockers("yolo", _ref("yolo", rows, summary), task="classify", min_per_class=4, data_fraction=0.25)
    assert "'dog'" not in reason and "dog (2/8)" in reason and "cat" not in reason.split(":")[1]
    report = ScanReport(kind="yolo", root=tmp_path, samples=list(rows), summary=summary)

    def view(seed: int, fraction: float = 0.25) -> dict[str, set[str]]:
        out, _ = build_training_view(report, tmp_path / f"v{seed}{fraction}", seed=seed, data_fraction=fraction)
        return {split: {p.name for p in (out / split).rglob("*.png")} for split in ("train", "val")}

    a, b, c = view(1), view(1), view(2)
    assert a == b and a["train"] != c["train"] and a["val"] == c["val"] == view(1, 1.0)["val"]
    assert Counter(n.split("_")[0] for n in a["train"]) == {"cat": 10, "dog": 2}


def test_reid_keeps_every_identity_and_the_gate_names_the_short_ones():
    rows = [SampleRow(id=i, path=f"bounding_box_train/{pid}_c{i % 2 + 1}s1_{i:06d}_00.jpg", label=pid, split="train",
                      meta={"camera": i % 2 + 1}) for pid, n in (("0001", 12), ("0002", 4)) for i in range(n)]
    full = split_samples(rows)
    sub = split_samples(rows, data_fraction=0.5, seed=3)
    assert Counter(pid for _, pid, _, _ in sub.train) == {0: 6, 1: 2} and len(full.train) == 16
    assert sub.train == split_samples(list(reversed(rows)), data_fraction=0.5, seed=3).train
    reasons = _blockers("reid", _ref("market1501", rows), min_identities=0, min_images_per_identity=3,
                        data_fraction=0.5)
    assert any("data_fraction=0.5" in r and "0002 (2/4)" in r and "0001" not in r for r in reasons), reasons


def test_transition_gate_names_the_training_patient_a_fraction_leaves_short():
    rows = [SampleRow(id=i, path=f"{p}/t{i}", label=p) for p, n in
            (("patient_01", 20), ("patient_02", 20), ("patient_03", 20), ("patient_04", 20), ("patient_05", 6))
            for i in range(n)]
    ref = _ref("transitions", rows)
    assert _blockers("transition", ref, min_samples_per_group=5) == []
    reasons = _blockers("transition", ref, min_samples_per_group=5, data_fraction=0.2)
    assert reasons and all("data_fraction=0.2" in r and "training patient" in r for r in reasons), reasons
