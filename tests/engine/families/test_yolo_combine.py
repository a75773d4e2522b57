"""yolo datasets combined, classes kept and renamed; the per-task image size and the seed
wizard's defaults; a label file over the label size limit is one problem, never read."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from engine.core import DatasetRef
from engine.families.yolo.config import YoloConfig
from engine.families.yolo.data import MAX_LABEL_BYTES, scan
from engine.families.yolo.prepare import build_training_view
from engine.families.yolo.samples import generate
from tests.fixtures.yolo_data import make_bright_squares


def _ref(root: Path, name: str, dataset_id: int) -> DatasetRef:
    return DatasetRef(name=name, kind="yolo", root=root, id=dataset_id, summary=scan(root).summary)


def test_image_size_follows_the_task_and_the_seed_wizards_defaults_hold():
    assert YoloConfig(task="classify").train_args()["imgsz"] == 224
    assert YoloConfig(task="detect").train_args()["imgsz"] == YoloConfig(task="segment").image_size() == 640
    assert YoloConfig(task="classify", imgsz=96).train_args()["imgsz"] == 96  # explicit wins (tests stay tiny)
    d = YoloConfig()
    assert (d.epochs, d.batch, d.lr0, d.seed, d.train_ratio) == (100, 16, 0.01, 42, 0.8)


def test_classes_are_matched_by_name_subset_and_renamed():
    cfg = YoloConfig(class_map={"auto": "car"}, classes=["car", "person"])
    names, maps = cfg.combined_classes([["person", "car", "dog"], ["auto", "person"]])
    assert names == ["car", "person"]
    assert maps == [{0: 1, 1: 0}, {0: 0, 1: 1}]  # dog dropped; auto merged into car


def test_conflicting_combinations_are_refused_with_the_reason(tmp_path):
    shapes = _ref(generate(tmp_path / "shapes", task="detect", count=6, size=32), "shapes", 1)
    squares = _ref(make_bright_squares(tmp_path / "sq", count=6, size=32, name="Square"), "squares", 2)
    classify = _ref(generate(tmp_path / "cls", task="classify", count=6, size=32), "cls", 3)
    problems = YoloConfig().combine_problems(shapes, (squares,))
    assert len(problems) == 1 and "'Square'" in problems[0] and "'square'" in problems[0] and "class_map" in problems[0]
    assert YoloConfig(class_map={"Square": "square"}).combine_problems(shapes, (squares,)) == []
    assert any("cannot train task 'detect'" in p for p in YoloConfig().combine_problems(shapes, (classify,)))
    assert any("'bird'" in p for p in YoloConfig(classes=["bird"]).combine_problems(shapes, ()))
    assert any("'cat'" in p for p in YoloConfig(class_map={"cat": "dog"}).combine_problems(shapes, ()))
    unnamed = tmp_path / "unnamed"
    make_bright_squares(unnamed, count=4, size=32)
    (unnamed / "data.yaml").unlink()
    assert any("no class names" in p for p in YoloConfig().combine_problems(shapes, (_ref(unnamed, "u", 4),)))


def test_two_datasets_make_one_view_with_labels_renumbered_by_name(tmp_path):
    a = generate(tmp_path / "a", task="detect", count=10, size=32, seed=1)  # circle, square, triangle
    b = make_bright_squares(tmp_path / "b", count=8, size=32)  # square only, class id 0
    cfg = YoloConfig()
    reports = [scan(a), scan(b)]
    names, maps = cfg.combined_classes([r.summary["names"] for r in reports])
    view, sizes = build_training_view(reports, tmp_path / "view", names=names, maps=maps)
    data = yaml.safe_load(view.read_text())
    assert data["names"] == {0: "circle", 1: "square", 2: "triangle"}
    listed = (view.parent / "train.txt").read_text().split()
    assert len(listed) == sizes["train"] == sum(s.split == "train" for r in reports for s in r.samples)
    b_labels = [Path(p) for p in listed if Path(p).resolve().is_relative_to(b.resolve())]
    assert len(b_labels) == sum(s.split == "train" for s in reports[1].samples)
    for image in b_labels:  # the squares' class 0 is "square" = 1 in the combined list
        label = Path(str(image).replace("/images/", "/labels/")).with_suffix(".txt")
        assert not label.is_symlink() and {ln.split()[0] for ln in label.read_text().splitlines()} == {"1"}


def test_a_label_file_over_the_limit_is_one_problem_and_never_read(tmp_path, monkeypatch):
    root = make_bright_squares(tmp_path / "big", count=6, size=32)
    big = root / "labels" / "train" / "00003.txt"
    line = "0 0.5 0.5 0.25 0.25\n"
    big.write_text(line * (MAX_LABEL_BYTES // len(line) + 1))
    read = Path.read_bytes

    def guarded(self: Path) -> bytes:
        assert self.name != big.name or "labels" not in self.parts, f"{self} was read"
        return read(self)

    monkeypatch.setattr(Path, "read_bytes", guarded)
    report = scan(root)
    mine = [p for p in report.problems if p.path == "labels/train/00003.txt"]
    assert len(mine) == 1 and f"{MAX_LABEL_BYTES:,}-byte limit" in mine[0].reason
    assert len(report.samples) == 5 and report.summary["excluded_images"] == 1


@pytest.mark.parametrize("field, value", [("classes", ["a", "a"]), ("extra_datasets", [3, 3]),
                                          ("extra_datasets", [0]), ("class_map", {"": "x"})])
def test_combination_fields_are_bounded(field, value):
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        YoloConfig(**{field: value})


def test_classify_datasets_combine_into_renamed_class_folders(tmp_path):
    a = generate(tmp_path / "a", task="classify", count=9, size=32, seed=1)
    b = generate(tmp_path / "b", task="classify", count=9, size=32, seed=2)
    cfg = YoloConfig(task="classify", class_map={"circle": "round"}, classes=["round", "square"])
    reports = [scan(a, task="classify"), scan(b, task="classify")]
    names, maps = cfg.combined_classes([r.summary["names"] for r in reports])
    view, sizes = build_training_view(reports, tmp_path / "view", names=names, maps=maps)
    assert sorted(p.name for p in (view / "train").iterdir()) == ["round", "square"]  # triangle left out
    kept = sum(s.split == "train" and s.label in ("circle", "square") for r in reports for s in r.samples)
    assert sum(1 for _ in (view / "train").glob("*/*")) == kept
    assert {p.resolve().parent.parent.parent for p in (view / "train" / "round").iterdir()} == {a.resolve(), b.resolve()}


def test_review_draws_val_per_dataset_as_the_view_does(tmp_path):
    from engine.core import SampleRow

    with_val = generate(tmp_path / "v", task="detect", count=10, size=32)  # 7 train, 2 val, 1 test
    without = make_bright_squares(tmp_path / "nv", count=10, size=32, val_share=0)  # 10 train, no val
    refs = []
    for i, root in enumerate((with_val, without), start=1):
        report = scan(root)
        rows = tuple(SampleRow(id=j, path=r.path, group_key=r.group_key, group_value=None, label=r.label, split=r.split,
                               flags=tuple(r.flags), meta=dict(r.meta)) for j, r in enumerate(report.samples))
        refs.append(DatasetRef(name=f"d{i}", kind="yolo", root=root, id=i, summary=report.summary, samples=rows))
    cfg = YoloConfig(class_map={"square": "square"})
    review = cfg.review(cfg.combined_dataset(refs[0], (refs[1],)))
    reports = [scan(with_val), scan(without)]
    names, maps = cfg.combined_classes([r.summary["names"] for r in reports])
    _, sizes = build_training_view(reports, tmp_path / "view", names=names, maps=maps, seed=cfg.seed)
    assert review["splits"] == {k: sizes[k] for k in ("train", "val", "test")} == {"train": 15, "val": 4, "test": 1}
