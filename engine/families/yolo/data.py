"""Scan and validate a ``yolo`` dataset folder.

Two Ultralytics layouts are recognised:

* detect / segment: ``data.yaml`` (train, val, test, names) with ``images/<split>/`` and the
  matching ``labels/<split>/*.txt`` (``class x y w h`` or ``class x1 y1 x2 y2 ...`` polygons,
  normalised to 0-1);
* classify: ``<split>/<class>/<image>``.

Every problem names its file and, for label files, its line. An image with any broken label
line is left out of training as a whole (a dropped line would teach the model that its object
is background); the rest of the dataset still imports and trains. Every file read resolves
inside the dataset folder, images decode fully under a pixel cap and ``data.yaml`` loads as
plain YAML (``engine.safeio``): a file that breaks a rule is one problem, never a crash.
"""
from __future__ import annotations

import math
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.datasets import Problem, SampleRecord, ScanReport, confined, list_files
from engine.safeio import MAX_TEXT_BYTES, UnsafeFile, check_image, load_yaml, read_text

__all__ = ["scan", "IMAGE_SUFFIXES", "SPLITS", "MAX_LABEL_BYTES", "label_path_for"]

IMAGE_SUFFIXES = {".bmp", ".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".dng", ".mpo", ".pfm", ".heic"}
SPLITS = ("train", "val", "test")
YAML_NAMES = ("data.yaml", "dataset.yaml", "data.yml")
MAX_BOXES_PER_IMAGE = 200  # box sizes kept per image for the size histogram
MAX_CLASSES = 10_000  # class ids at or above this are refused when data.yaml gives no names
MAX_QUOTE = 80  # characters of a bad label line quoted in its problem
# a label file (or split list) over this is one problem, its image left out, the file never read:
# 1 MiB is ~25,000 boxes or a few hundred dense polygons on one image, far above any real label;
# the general text limit (engine.safeio.MAX_TEXT_BYTES, 64 MiB) let a 60 MB label file through
# to be parsed line by line (14.7 s and 996 MB resident for one file)
MAX_LABEL_BYTES = 1 << 20


@dataclass
class _Line:
    cls: int
    coords: list[float]
    number: int = 0

    @property
    def is_polygon(self) -> bool:
        return len(self.coords) > 4

    def box_wh(self) -> tuple[float, float]:
        if not self.is_polygon:
            return self.coords[2], self.coords[3]
        xs, ys = self.coords[0::2], self.coords[1::2]
        return max(xs) - min(xs), max(ys) - min(ys)


@dataclass
class _Image:
    path: Path
    split: str
    size: tuple[int, int] | None = None
    label_rel: str | None = None
    lines: list[_Line] = field(default_factory=list)
    bad: bool = False
    flags: list[str] = field(default_factory=list)


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _inside(path: Path, root: Path) -> bool:
    try:
        path, root = path.resolve(), root.resolve()
    except (OSError, ValueError):  # a link loop, a NUL byte
        return False
    return path == root or root in path.parents


def label_path_for(image: Path) -> Path:
    """Ultralytics' rule: the last ``/images/`` in the path becomes ``/labels/``, suffix ``.txt``."""
    parts = list(image.parts)
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            break
    return Path(*parts).with_suffix(".txt")


def _read_image(path: Path, root: Path, problems: list[Problem]) -> tuple[int, int] | None:
    """Decode the whole image (a truncated file is a problem) under the pixel cap."""
    if confined(root, path, problems, shown=_rel(path, root)) is None:
        return None
    if not path.is_file():
        problems.append(Problem(_rel(path, root), "is not a file"))
        return None
    try:
        return check_image(path)
    except UnsafeFile as exc:
        problems.append(Problem(_rel(path, root), f"unreadable image: {exc}"))
        return None


def _images_in(folder: Path, root: Path, problems: list[Problem]) -> list[Path]:
    return list_files(root, folder, IMAGE_SUFFIXES, problems)


def _read_label_text(path: Path, root: Path, problems: list[Problem], *, limit: int = MAX_LABEL_BYTES) -> str | None:
    try:
        return read_text(path, limit=limit)
    except (UnsafeFile, OSError) as exc:
        problems.append(Problem(_rel(path, root), f"cannot read label file: {exc}"))
        return None


# ---------- detect / segment ----------

def _load_yaml(path: Path, root: Path, problems: list[Problem]) -> dict[str, Any] | None:
    """data.yaml as a mapping, or None (one problem) when it is refused: the scan then falls
    back to the standard ``images/<split>`` layout."""
    rel = _rel(path, root)
    resolved = confined(root, path, problems, shown=rel)
    if resolved is None:
        return None
    try:
        data = load_yaml(resolved)
    except (UnsafeFile, OSError) as exc:
        problems.append(Problem(rel, f"not read: {exc}; using images/<split> and class ids as names"))
        return None
    if not isinstance(data, dict):
        problems.append(Problem(rel, "expected a mapping of keys (train, val, names)"))
        return None
    return data


def _names(data: dict[str, Any], rel: str, problems: list[Problem]) -> list[str] | None:
    names = data.get("names")
    if names is None:
        problems.append(Problem(rel, "missing key (class names)", field="names"))
        return None
    if isinstance(names, dict):
        try:
            ids = sorted(int(k) for k in names)
        except (TypeError, ValueError, OverflowError):
            problems.append(Problem(rel, "class ids must be integers", field="names"))
            return None
        if ids != list(range(len(ids))):
            problems.append(Problem(rel, f"class ids must run 0..{len(ids) - 1}", field="names"))
            if not ids or ids[0] < 0 or ids[-1] >= MAX_CLASSES:  # never build a list of a billion names
                return None
        names = [str(names.get(i, names.get(str(i), f"class{i}"))) for i in range(max(ids, default=-1) + 1)]
    elif isinstance(names, list):
        names = [str(n) for n in names]
    else:
        problems.append(Problem(rel, "must be a list or an id → name mapping", field="names"))
        return None
    nc = data.get("nc")
    if nc is not None and nc != len(names):
        problems.append(Problem(rel, f"nc is {nc} but {len(names)} names are given", field="nc"))
    return names


def _split_sources(data: dict[str, Any], yaml_path: Path | None, root: Path,
                   problems: list[Problem]) -> dict[str, list[Path]]:
    """Image files per split, as data.yaml names them (folders, list files or lists of both)."""
    rel = _rel(yaml_path, root) if yaml_path else "data.yaml"
    base = root
    if data.get("path"):
        candidate = Path(str(data["path"]))
        candidate = candidate if candidate.is_absolute() else root / candidate
        if _inside(candidate, root):
            base = candidate.resolve()
        else:
            problems.append(Problem(rel, f"{data['path']} is outside the dataset folder; using the dataset folder",
                                    field="path"))
    out: dict[str, list[Path]] = {}
    for split in SPLITS:
        entry = data.get(split)
        if entry is None:
            if split == "train":
                problems.append(Problem(rel, "missing key (training images)", field="train"))
            continue
        files: list[Path] = []
        for item in entry if isinstance(entry, list) else [entry]:
            src = Path(str(item))
            src = src if src.is_absolute() else base / src
            if not _inside(src, root):
                problems.append(Problem(rel, f"{item} is outside the dataset folder", field=split))
            elif src.is_dir():
                files += _images_in(src, root, problems)
            elif src.is_file() and src.suffix == ".txt":
                files += _list_file(src, root, problems)
            else:
                problems.append(Problem(rel, f"{item} does not exist", field=split))
        out[split] = files
    return out


def _list_file(src: Path, root: Path, problems: list[Problem]) -> list[Path]:
    """The images a split list file names, each confined to the dataset folder."""
    text = _read_label_text(src, root, problems, limit=MAX_TEXT_BYTES)  # a split list may name 100k+ images
    files: list[Path] = []
    for n, line in enumerate((text or "").splitlines(), 1):
        if not line.strip():
            continue
        img = Path(line.strip())
        img = img if img.is_absolute() else src.parent / img
        if _inside(img, root):
            files.append(img)
        else:
            problems.append(Problem(_rel(src, root), f"{line.strip()[:MAX_QUOTE]} is outside the dataset folder",
                                    line=n))
    return files


def _parse_labels(text: str, rel: str, nc: int | None, problems: list[Problem]) -> tuple[list[_Line], bool]:
    lines, bad = [], False
    for n, raw in enumerate(text.splitlines(), 1):
        parts = raw.split()
        if not parts:
            continue

        def fail(reason: str, fld: str | None = None, n: int = n) -> None:  # this line's number, bound now
            nonlocal bad
            bad = True
            problems.append(Problem(rel, reason, line=n, field=fld))

        try:
            values = [float(v) for v in parts]
        except ValueError:
            fail(f"malformed line: non-numeric value in {raw.strip()[:MAX_QUOTE]!r}")
            continue
        if len(values) < 5:
            fail(f"malformed line: {len(values)} values, expected 'class x y w h' or 'class x1 y1 x2 y2 x3 y3 ...'")
            continue
        cls_value, coords = values[0], values[1:]
        if not math.isfinite(cls_value) or cls_value != int(cls_value):
            fail(f"malformed line: class id {parts[0][:MAX_QUOTE]} is not an integer", "class")
            continue
        cls = int(cls_value)
        limit = nc if nc is not None else MAX_CLASSES
        if cls < 0 or cls >= limit:
            fail(f"class id {parts[0][:MAX_QUOTE]} out of range 0..{limit - 1}", "class")
            continue
        if len(coords) > 4 and len(coords) % 2:
            fail(f"malformed polygon: odd number of coordinates ({len(coords)})")
            continue
        if len(coords) > 4 and len(coords) < 6:
            fail("polygon with too few points (needs at least 3)")
            continue
        if not all(0 <= c <= 1 for c in coords):  # also refuses nan and inf
            fail("coordinates outside 0-1 (labels must be normalised by image width and height)", "coords")
            continue
        line = _Line(cls, coords, n)
        w, h = line.box_wh()
        if w <= 0 or h <= 0:
            fail("box with zero width or height", "coords")
            continue
        lines.append(line)
    return lines, bad


def _scan_detect(root: Path, yaml_path: Path | None, task: str | None) -> ScanReport:
    problems: list[Problem] = []
    standard = {s: f"images/{s}" for s in SPLITS if (root / "images" / s).is_dir()}
    names = None
    if yaml_path is None:
        problems.append(Problem("data.yaml", "missing: class names are inferred from the label files"))
    data = _load_yaml(yaml_path, root, problems) if yaml_path is not None else None
    if data is None:  # missing or refused: the standard layout, class ids as names
        data = standard
    else:
        names = _names(data, _rel(yaml_path, root), problems) if data else None
        if data and not any(s in data for s in SPLITS):
            data = {**data, **standard}
    sources = _split_sources(data, yaml_path, root, problems)
    nc = len(names) if names is not None else None

    images: list[_Image] = []
    seen: set[Path] = set()
    for split, files in sources.items():
        for path in files:
            if path in seen:
                problems.append(Problem(_rel(path, root), "listed in more than one split; kept in the first"))
                continue
            seen.add(path)
            img = _Image(path=path, split=split)
            images.append(img)
            if not os.path.lexists(path):
                problems.append(Problem(_rel(path, root), "image file does not exist"))
                img.bad = True
                continue
            img.size = _read_image(path, root, problems)
            if img.size is None:
                img.bad = True
                continue
            lbl = label_path_for(path)
            img.label_rel = _rel(lbl, root)
            if not os.path.lexists(lbl):
                problems.append(Problem(_rel(path, root), f"image without labels: no label file {img.label_rel}"))
                img.bad = True
                continue
            text = None
            if confined(root, lbl, problems, shown=img.label_rel) is not None:
                text = _read_label_text(lbl, root, problems)
            if text is None:
                img.bad = True
                continue
            if not text.strip():
                problems.append(Problem(img.label_rel, "empty label file: kept as a background image"))
                img.flags.append("background")
                continue
            img.lines, bad = _parse_labels(text, img.label_rel, nc, problems)
            if bad:
                img.bad = True
                img.flags.append("bad_labels")

    # label files that no image points to (a refused image's label is not an orphan: its image's problem says why)
    refused = [root / p.path for p in problems if Path(p.path).suffix.lower() in IMAGE_SUFFIXES]
    label_dirs = {label_path_for(i.path).parent for i in images}
    wanted = {label_path_for(p) for p in [i.path for i in images] + refused}
    for d in sorted(label_dirs):
        if _inside(d, root) and d.is_dir():
            for lbl in sorted(d.glob("*.txt")):
                if lbl not in wanted:
                    problems.append(Problem(_rel(lbl, root), "label file without an image"))

    all_lines = [ln for i in images for ln in i.lines]
    if task is None:
        polys = sum(ln.is_polygon for ln in all_lines)
        task = "segment" if all_lines and polys * 2 > len(all_lines) else "detect"
    inferred = names is None
    if names is None:
        top = max((ln.cls for ln in all_lines), default=-1)
        names = [f"class{i}" for i in range(top + 1)]
    if task == "segment":
        for img in images:
            for ln in img.lines:
                if not ln.is_polygon:  # four coordinates: a box, or a two-point polygon
                    problems.append(Problem(img.label_rel or "", "polygon with too few points: 2 "
                                            "(segmentation labels need at least 3)", line=ln.number))
                    img.bad = True

    samples = []
    for img in images:
        if img.bad:
            continue
        counts = Counter(names[ln.cls] for ln in img.lines)
        label = counts.most_common(1)[0][0] if counts else None
        samples.append(SampleRecord(
            path=_rel(img.path, root), group_key="class", label=label, split=img.split, flags=img.flags,
            meta={"instances": dict(counts), "width": img.size[0], "height": img.size[1],
                  "boxes": [[round(w, 4), round(h, 4)] for w, h in
                            (ln.box_wh() for ln in img.lines[:MAX_BOXES_PER_IMAGE])]}))
    report = _report(root, "detect" if task == "detect" else "segment", names, samples, problems,
                     excluded=sum(i.bad for i in images))
    report.summary["names_inferred"] = inferred
    return report


# ---------- classify ----------

def _scan_classify(root: Path) -> ScanReport:
    problems: list[Problem] = []
    samples: list[SampleRecord] = []
    split_dirs = {s: root / s for s in SPLITS if (root / s).is_dir()}
    if "val" not in split_dirs and (root / "valid").is_dir():
        split_dirs["val"] = root / "valid"
    split_dirs = {s: d for s, d in split_dirs.items() if confined(root, d, problems, shown=_rel(d, root))}
    class_dirs = {s: _class_dirs(folder, root, problems) for s, folder in split_dirs.items()}
    train_classes = sorted(d.name for d in class_dirs.get("train", []))
    if "train" not in split_dirs:
        problems.append(Problem("train", "missing folder: classify datasets need train/<class>/<image>"))
    excluded = 0
    for split, folder in split_dirs.items():
        for item in sorted(folder.iterdir()):
            if item.suffix.lower() in IMAGE_SUFFIXES and not item.is_dir():
                problems.append(Problem(_rel(item, root), "image outside a class folder"))
                excluded += 1
        for item in class_dirs[split]:
            if split != "train" and item.name not in train_classes:
                problems.append(Problem(_rel(item, root), f"class {item.name!r} has no training images"))
            files = _images_in(item, root, problems)
            if not files:
                problems.append(Problem(_rel(item, root), "class folder without images"))
            for path in files:
                size = _read_image(path, root, problems)
                if size is None:
                    excluded += 1
                    continue
                samples.append(SampleRecord(path=_rel(path, root), group_key="class", label=item.name, split=split,
                                            meta={"instances": {item.name: 1}, "width": size[0], "height": size[1]}))
    return _report(root, "classify", train_classes, samples, problems, excluded=excluded)


def _class_dirs(folder: Path, root: Path, problems: list[Problem]) -> list[Path]:
    """The class folders of one split; a link out of the dataset or a non-UTF-8 name is a problem."""
    out = []
    for item in sorted(folder.iterdir()):
        if not item.is_dir():
            continue
        try:
            item.name.encode("utf-8")
        except UnicodeEncodeError:
            problems.append(Problem(_rel(item, root), "folder name is not valid UTF-8; rename it (not read)"))
            continue
        if confined(root, item, problems, shown=_rel(item, root)) is not None:
            out.append(item)
    return out


def _report(root: Path, task: str, names: list[str], samples: list[SampleRecord], problems: list[Problem],
            *, excluded: int) -> ScanReport:
    splits = Counter(s.split for s in samples)
    summary = {"task": task, "names": names, "nc": len(names), "splits": dict(splits),
               "has_val": splits.get("val", 0) > 0, "excluded_images": excluded,
               "instances": sum(sum(s.meta.get("instances", {}).values()) for s in samples)}
    return ScanReport(kind="yolo", root=root, samples=samples, problems=problems, summary=summary)


def scan(root: Path, *, task: str | None = None, **_: Any) -> ScanReport:
    """Scan a dataset folder in either Ultralytics layout; ``task`` forces detect or segment."""
    root = Path(root).resolve()
    yaml_path = next((root / n for n in YAML_NAMES if os.path.lexists(root / n)), None)  # a link out is reported
    if task == "classify" or (yaml_path is None and not (root / "images").is_dir()):
        if (root / "train").is_dir() or task == "classify":
            return _scan_classify(root)
        return ScanReport(kind="yolo", root=root, problems=[Problem(
            ".", "not a YOLO dataset: expected data.yaml with images/ and labels/, or train/<class>/<image>")],
            summary={"task": None, "names": [], "nc": 0, "splits": {}, "has_val": False, "excluded_images": 0})
    return _scan_detect(root, yaml_path, task)
