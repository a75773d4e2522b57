"""Scan and validate a ``yolo`` dataset folder.

Two Ultralytics layouts are recognised:

* detect / segment: ``data.yaml`` (train, val, test, names) with ``images/<split>/`` and the
  matching ``labels/<split>/*.txt`` (``class x y w h`` or ``class x1 y1 x2 y2 ...`` polygons,
  normalised to 0-1);
* classify: ``<split>/<class>/<image>``.

Every problem names its file and, for label files, its line. An image with any broken label
line is left out of training as a whole (a dropped line would teach the model that its object
is background); the rest of the dataset still imports and trains.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from PIL import Image

from engine.datasets import Problem, SampleRecord, ScanReport

__all__ = ["scan", "IMAGE_SUFFIXES", "SPLITS", "label_path_for"]

IMAGE_SUFFIXES = {".bmp", ".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".dng", ".mpo", ".pfm", ".heic"}
SPLITS = ("train", "val", "test")
YAML_NAMES = ("data.yaml", "dataset.yaml", "data.yml")
MAX_BOXES_PER_IMAGE = 200  # box sizes kept per image for the size histogram


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
    path, root = path.resolve(), root.resolve()
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
    try:
        with Image.open(path) as im:
            im.verify()
        with Image.open(path) as im:
            return im.size
    except Exception as exc:
        problems.append(Problem(_rel(path, root), f"unreadable image ({type(exc).__name__})"))
        return None


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


# ---------- detect / segment ----------

def _load_yaml(path: Path, root: Path, problems: list[Problem]) -> dict[str, Any]:
    rel = _rel(path, root)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problems.append(Problem(rel, f"not valid YAML: {getattr(exc, 'problem', exc)}",
                                line=mark.line + 1 if mark else None))
        return {}
    if not isinstance(data, dict):
        problems.append(Problem(rel, "expected a mapping of keys (train, val, names)"))
        return {}
    return data


def _names(data: dict[str, Any], rel: str, problems: list[Problem]) -> list[str] | None:
    names = data.get("names")
    if names is None:
        problems.append(Problem(rel, "missing key (class names)", field="names"))
        return None
    if isinstance(names, dict):
        try:
            ids = sorted(int(k) for k in names)
        except (TypeError, ValueError):
            problems.append(Problem(rel, "class ids must be integers", field="names"))
            return None
        if ids != list(range(len(ids))):
            problems.append(Problem(rel, f"class ids must run 0..{len(ids) - 1}", field="names"))
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
                files += _images_in(src)
            elif src.is_file() and src.suffix == ".txt":
                for n, line in enumerate(src.read_text().splitlines(), 1):
                    if not line.strip():
                        continue
                    img = Path(line.strip())
                    img = img if img.is_absolute() else src.parent / img
                    if _inside(img, root):
                        files.append(img)
                    else:
                        problems.append(Problem(_rel(src, root), f"{line.strip()} is outside the dataset folder",
                                                line=n))
            else:
                problems.append(Problem(rel, f"{item} does not exist", field=split))
        out[split] = files
    return out


def _parse_labels(text: str, rel: str, nc: int | None, problems: list[Problem]) -> tuple[list[_Line], bool]:
    lines, bad = [], False
    for n, raw in enumerate(text.splitlines(), 1):
        parts = raw.split()
        if not parts:
            continue

        def fail(reason: str, fld: str | None = None) -> None:
            nonlocal bad
            bad = True
            problems.append(Problem(rel, reason, line=n, field=fld))

        try:
            values = [float(v) for v in parts]
        except ValueError:
            fail(f"malformed line: non-numeric value in {raw.strip()!r}")
            continue
        if len(values) < 5:
            fail(f"malformed line: {len(values)} values, expected 'class x y w h' or 'class x1 y1 x2 y2 x3 y3 ...'")
            continue
        cls_value, coords = values[0], values[1:]
        if cls_value != int(cls_value):
            fail(f"malformed line: class id {parts[0]} is not an integer", "class")
            continue
        cls = int(cls_value)
        if cls < 0 or (nc is not None and cls >= nc):
            fail(f"class id {cls} out of range 0..{(nc or 0) - 1}", "class")
            continue
        if len(coords) > 4 and len(coords) % 2:
            fail(f"malformed polygon: odd number of coordinates ({len(coords)})")
            continue
        if len(coords) > 4 and len(coords) < 6:
            fail("polygon with too few points (needs at least 3)")
            continue
        if any(c < 0 or c > 1 for c in coords):
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
    if yaml_path is not None:
        data = _load_yaml(yaml_path, root, problems)
        names = _names(data, _rel(yaml_path, root), problems) if data else None
    else:
        problems.append(Problem("data.yaml", "missing: class names are inferred from the label files"))
        data = {s: f"images/{s}" for s in SPLITS if (root / "images" / s).is_dir()}
        names = None
    if data and yaml_path is not None and not any(s in data for s in SPLITS):
        data = {**data, **{s: f"images/{s}" for s in SPLITS if (root / "images" / s).is_dir()}}
    sources = _split_sources(data, yaml_path, root, problems)
    nc = len(names) if names is not None else None

    images: list[_Image] = []
    seen: set[Path] = set()
    for split, files in sources.items():
        for path in files:
            if path in seen:
                problems.append(Problem(_rel(path, root), f"listed in more than one split; kept in the first"))
                continue
            seen.add(path)
            img = _Image(path=path, split=split)
            images.append(img)
            if not path.exists():
                problems.append(Problem(_rel(path, root), "image file does not exist"))
                img.bad = True
                continue
            img.size = _read_image(path, root, problems)
            if img.size is None:
                img.bad = True
            lbl = label_path_for(path)
            img.label_rel = _rel(lbl, root)
            if not lbl.exists():
                problems.append(Problem(_rel(path, root), f"image without labels: no label file {img.label_rel}"))
                img.bad = True
                continue
            text = lbl.read_text(errors="replace")
            if not text.strip():
                problems.append(Problem(img.label_rel, "empty label file: kept as a background image"))
                img.flags.append("background")
                continue
            img.lines, bad = _parse_labels(text, img.label_rel, nc, problems)
            if bad:
                img.bad = True
                img.flags.append("bad_labels")

    # label files that no image points to
    label_dirs = {label_path_for(i.path).parent for i in images}
    wanted = {label_path_for(i.path) for i in images}
    for d in sorted(label_dirs):
        if d.is_dir():
            for lbl in sorted(d.glob("*.txt")):
                if lbl not in wanted:
                    problems.append(Problem(_rel(lbl, root), "label file without an image"))

    all_lines = [ln for i in images for ln in i.lines]
    if task is None:
        polys = sum(ln.is_polygon for ln in all_lines)
        task = "segment" if all_lines and polys * 2 > len(all_lines) else "detect"
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
    return _report(root, "detect" if task == "detect" else "segment", names, samples, problems,
                   excluded=sum(i.bad for i in images))


# ---------- classify ----------

def _scan_classify(root: Path) -> ScanReport:
    problems: list[Problem] = []
    samples: list[SampleRecord] = []
    split_dirs = {s: root / s for s in SPLITS if (root / s).is_dir()}
    if "val" not in split_dirs and (root / "valid").is_dir():
        split_dirs["val"] = root / "valid"
    train_classes = sorted(d.name for d in split_dirs.get("train", root / "train").glob("*") if d.is_dir())
    if "train" not in split_dirs:
        problems.append(Problem("train", "missing folder: classify datasets need train/<class>/<image>"))
    excluded = 0
    for split, folder in split_dirs.items():
        for item in sorted(folder.iterdir()):
            if item.is_file():
                if item.suffix.lower() in IMAGE_SUFFIXES:
                    problems.append(Problem(_rel(item, root), "image outside a class folder"))
                    excluded += 1
                continue
            if split != "train" and item.name not in train_classes:
                problems.append(Problem(_rel(item, root), f"class {item.name!r} has no training images"))
            files = _images_in(item)
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
    yaml_path = next((root / n for n in YAML_NAMES if (root / n).is_file()), None)
    if task == "classify" or (yaml_path is None and not (root / "images").is_dir()):
        if (root / "train").is_dir() or task == "classify":
            return _scan_classify(root)
        return ScanReport(kind="yolo", root=root, problems=[Problem(
            ".", "not a YOLO dataset: expected data.yaml with images/ and labels/, or train/<class>/<image>")],
            summary={"task": None, "names": [], "nc": 0, "splits": {}, "has_val": False, "excluded_images": 0})
    return _scan_detect(root, yaml_path, task)
