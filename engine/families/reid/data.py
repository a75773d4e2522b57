"""Scan and validate a ``market1501`` dataset folder.

The layout is Market-1501's: ``bounding_box_train/`` (training identities), ``bounding_box_test/``
(the gallery), ``query/`` and optionally ``gt_bbox/`` (hand-drawn boxes; counted, not trained
on), directly in the folder or in its ``Market-1501-v15.09.15/`` subfolder. Every image is named
``PPPP_cCsS_FFFFFF_NN.jpg``: person id, camera, sequence, frame and box number.

Ids are treated as Market-1501 (and torchreid) treat them: ``-1`` is junk (imported, flagged and
left out of training and evaluation) and ``0000`` is a distractor (imported and flagged; in the
gallery it stays as a non-matching image, elsewhere it is left out). A file whose name does not
parse, or that is not a whole image, is one problem naming the file; the rest imports. Files are
reached only through ``engine.safeio`` (confined to the folder, decoded pixels capped).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.datasets import Problem, SampleRecord, ScanReport
from engine.safeio import UnsafeFile, check_image, inside, read_text

__all__ = ["scan", "parse_name", "MarketName", "FOLDERS", "JUNK", "DISTRACTOR", "IMAGE_SUFFIXES", "NAME_HELP"]

# folder → split stored on the Sample rows
FOLDERS = {"bounding_box_train": "train", "bounding_box_test": "gallery", "query": "query", "gt_bbox": "gt_bbox"}
REQUIRED = ("bounding_box_train", "bounding_box_test", "query")
NESTED = "Market-1501-v15.09.15"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
JUNK, DISTRACTOR = "-1", "0000"
NAME_HELP = "PPPP_cCsS_FFFFFF_NN.jpg (person id, camera, sequence, frame, box; e.g. 0001_c1s1_000151_01.jpg)"
_NAME = re.compile(r"^(-1|\d{4})_c(\d)s(\d)_(\d{6})_(\d{2})$")


@dataclass(frozen=True)
class MarketName:
    pid: str  # "0001", or "-1" (junk) / "0000" (distractor)
    camera: int
    sequence: int
    frame: int
    box: int

    @property
    def flag(self) -> str | None:
        return {JUNK: "junk", DISTRACTOR: "distractor"}.get(self.pid)


def parse_name(filename: str) -> MarketName | None:
    """``0001_c1s1_000151_01.jpg`` → ``MarketName('0001', 1, 1, 151, 1)``; None when it does not
    follow Market-1501's naming (camera 0 included: cameras count from 1)."""
    m = _NAME.match(Path(filename).stem)
    if not m or int(m.group(2)) == 0:
        return None
    return MarketName(m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4)), int(m.group(5)))


def _data_dir(root: Path) -> Path:
    nested = root / NESTED
    if not (root / "bounding_box_train").is_dir() and nested.is_dir():
        return inside(root, NESTED)
    return root


def _check_box_text(path: Path) -> str | None:
    """gt_bbox ``.txt``: four numbers (a box); returns the reason when it is not."""
    try:
        words = read_text(path, limit=4096).replace(",", " ").split()
    except UnsafeFile as exc:
        return str(exc)
    try:
        values = [float(w) for w in words]
    except ValueError:
        return "box file must hold four numbers (x y w h)"
    return None if len(values) == 4 else f"box file must hold four numbers (x y w h), found {len(values)}"


def scan(root: Path, **_: Any) -> ScanReport:
    """Check every file of the three (four) Market-1501 folders; return the valid samples, each
    problem by file, and counts per split."""
    root = Path(root)
    report = ScanReport(kind="market1501", root=root)
    data_dir = _data_dir(root)
    for folder in REQUIRED:
        if not (data_dir / folder).is_dir():
            report.problems.append(Problem(folder, "missing folder (Market-1501 needs bounding_box_train, "
                                                   "bounding_box_test and query)"))
    counts: dict[str, int] = {}
    boxes = 0
    for folder, split in FOLDERS.items():
        base = data_dir / folder
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            rel = path.relative_to(root).as_posix()
            if path.is_dir():
                continue
            try:
                real = inside(root, rel)
            except UnsafeFile as exc:
                report.problems.append(Problem(rel, str(exc)))
                continue
            if path.parent != base:
                report.problems.append(Problem(rel, f"inside a subfolder of {folder}/; Market-1501 folders are flat"))
                continue
            name = parse_name(path.name)
            suffix = path.suffix.lower()
            if split == "gt_bbox" and suffix == ".txt":
                reason = None if name else f"name does not follow {NAME_HELP}"
                reason = reason or _check_box_text(real)
                if reason:
                    report.problems.append(Problem(rel, reason))
                else:
                    boxes += 1
                continue
            if suffix not in IMAGE_SUFFIXES:
                report.problems.append(Problem(rel, f"not a .jpg/.jpeg/.png image ({suffix or 'no extension'}); skipped"))
                continue
            if name is None:
                report.problems.append(Problem(rel, f"name does not follow {NAME_HELP}"))
                continue
            try:
                width, height = check_image(real)
            except UnsafeFile as exc:
                report.problems.append(Problem(rel, str(exc)))
                continue
            report.samples.append(SampleRecord(
                path=rel, group_key="identity", group_value=float(int(name.pid)), label=name.pid, split=split,
                flags=[name.flag] if name.flag else [],
                meta={"camera": name.camera, "sequence": name.sequence, "frame": name.frame, "box": name.box,
                      "width": width, "height": height}))
            counts[split] = counts.get(split, 0) + 1
    real_ids = {s.split: set() for s in report.samples}
    for s in report.samples:
        if not s.flags:
            real_ids[s.split].add(s.label)
    train_ids, gallery_ids = real_ids.get("train", set()), real_ids.get("gallery", set())
    query_ids = real_ids.get("query", set())
    report.summary = {
        "folder": data_dir.relative_to(root).as_posix() if data_dir != root else ".",
        "splits": counts, "gt_bbox_boxes": boxes,
        "train_identities": len(train_ids), "test_identities": len(query_ids | gallery_ids),
        "cameras": sorted({s.meta["camera"] for s in report.samples}),
        "junk": sum("junk" in s.flags for s in report.samples),
        "distractors": sum("distractor" in s.flags for s in report.samples),
        "overlap_identities": sorted(train_ids & (query_ids | gallery_ids)),
        "query_missing_from_gallery": sorted(query_ids - gallery_ids),
    }
    return report
