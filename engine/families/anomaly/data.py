"""The ``drawings`` dataset kind: a folder of images plus ``metadata.csv`` or ``metadata.json``.

Metadata rows carry ``filename``, ``age_years``, ``subject`` and ``expert_label`` (``normal``,
``anomalous`` or empty). A filename is relative to the metadata file's folder; a bare name
that is not there is looked up anywhere under the dataset folder and used when exactly one file
has that name (the common ``images/`` + bare names layout). Every bad row or file is reported
by name and reason and left out; the rest imports. Every file read resolves inside the dataset
folder and images decode under a pixel cap (``engine.safeio``). Images that decode but look
wrong (tiny, blank) import with a flag, so the sufficiency page can show them.
"""
from __future__ import annotations

import csv
import hashlib
import io
import math
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

from engine.datasets import Problem, SampleRecord, ScanReport, confined, list_files
from engine.families.anomaly.config import AGE_MAX, AGE_MIN
from engine.safeio import UnsafeFile, load_json, open_image, read_text

__all__ = ["scan", "check_image", "IMAGE_SUFFIXES", "MAX_IMAGE_BYTES", "MIN_SIDE", "ANOMALOUS", "is_anomalous"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
MAX_IMAGE_BYTES = 10 * 1024 * 1024
MIN_SIDE = 32  # pixels; smaller images are flagged "tiny"
BLANK_STD = 2.0  # grey-level standard deviation below which an image is flagged "blank"
ANOMALOUS = "anomalous"
METADATA_FILES = ("metadata.csv", "metadata.json")
MAX_CANDIDATES_SHOWN = 5


def is_anomalous(label: str | None) -> bool:
    return (label or "").strip().lower() == ANOMALOUS


def check_image(data: bytes, name: str) -> tuple[list[str], str | None]:
    """Decode ``data`` fully (pixel cap, truncation is an error); return ``(flags, reason)``
    where ``reason`` says why it is unusable."""
    from PIL import ImageStat

    if not name.lower().endswith(IMAGE_SUFFIXES):
        return [], f"not a PNG, JPEG or BMP file ({Path(name).suffix or 'no extension'})"
    if len(data) > MAX_IMAGE_BYTES:
        return [], f"file is {len(data) / 2**20:.1f} MB, above the 10 MB limit"
    if not data:
        return [], "corrupt or unreadable image (empty file)"
    try:
        grey = open_image(io.BytesIO(data), mode="L")
    except UnsafeFile as exc:
        reason = str(exc)
        return [], reason if "pixel" in reason else f"corrupt or unreadable image: {reason}"
    w, h = grey.size
    flags = []
    if min(w, h) < MIN_SIDE:
        flags.append("tiny")
    if ImageStat.Stat(grey).stddev[0] < BLANK_STD:
        flags.append("blank")
    return flags, None


def _read_rows(root: Path, problems: list[Problem]) -> tuple[str | None, list[tuple[int, Any]], bool]:
    """The rows of the first usable metadata file, and whether any metadata file was there;
    each refused one is a problem."""
    tried = False
    for name in METADATA_FILES:
        if not os.path.lexists(root / name):
            continue
        tried = True
        path = confined(root, name, problems)
        if path is None:
            continue
        if not path.is_file():
            problems.append(Problem(name, "is not a file"))
            continue
        try:
            if name.endswith(".csv"):
                text = read_text(path).removeprefix("\ufeff")
                return name, [(i + 2, row) for i, row in enumerate(csv.DictReader(io.StringIO(text)))], True  # line 1 = header
            data = load_json(path)
            if isinstance(data, dict):
                data = data.get("drawings") or data.get("samples") or []
            if not isinstance(data, list):
                problems.append(Problem(name, "expected a list of objects (or {\"drawings\": [...]})"))
                return name, [], True
            return name, [(i + 1, row) for i, row in enumerate(data)], True
        except (OSError, ValueError, csv.Error) as exc:
            problems.append(Problem(name, f"cannot read metadata: {exc}"))
    if not tried:
        problems.append(Problem(".", "no metadata.csv or metadata.json in the folder"))
    return None, [], tried


def _text(value: Any) -> str:
    """A metadata value as clean text (a lone surrogate from a JSON escape cannot reach the database)."""
    return str(value if value is not None else "").strip().encode("utf-8", "replace").decode("utf-8")


def _resolve(root: Path, filename: str, by_name: dict[str, list[str]], meta_name: str, line: int,
             problems: list[Problem], mentioned: set[str]) -> str | None:
    """The listed file as a path relative to ``root``, or None with one problem saying why
    (the candidates of an ambiguous name go to ``mentioned``: that problem covers them)."""
    direct = os.path.normpath(filename)
    if os.path.lexists(root / direct) or os.path.isabs(filename) or direct.startswith(".."):
        path = confined(root, direct, problems, line=line, field="filename", shown=filename)
        if path is None:
            return None
        if not path.exists():
            problems.append(Problem(filename, f"file not found (listed in {meta_name})", line=line))
            return None
        if os.path.isabs(direct):
            try:
                return Path(direct).relative_to(root).as_posix()
            except ValueError:
                return path.relative_to(root.resolve()).as_posix()
        return Path(direct).as_posix()
    bare = "/" not in filename and "\\" not in filename
    matches = by_name.get(filename, []) if bare else []
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        mentioned.update(matches)
        shown = ", ".join(matches[:MAX_CANDIDATES_SHOWN]) + (", …" if len(matches) > MAX_CANDIDATES_SHOWN else "")
        problems.append(Problem(filename, f"{len(matches)} files have this name ({shown}); write its path "
                                          f"relative to the dataset folder in {meta_name}", line=line, field="filename"))
        return None
    problems.append(Problem(filename, f"file not found (listed in {meta_name})", line=line))
    return None


def scan(root: Path, **_: Any) -> ScanReport:
    """Check every metadata row and its image; return the valid samples and each problem."""
    root = Path(root)
    report = ScanReport(kind="drawings", root=root)
    meta_name, rows, had_metadata = _read_rows(root, report.problems)
    walked: list[Problem] = []  # refused files found on disk: reported unless a row already did
    images = list_files(root, root, IMAGE_SUFFIXES, walked)
    rels = [img.relative_to(root).as_posix() for img in images]
    by_name: dict[str, list[str]] = defaultdict(list)
    for rel in rels:
        by_name[rel.rsplit("/", 1)[-1]].append(rel)
    seen: set[str] = set()
    used: set[str] = set()
    for line, row in rows:
        if not isinstance(row, dict):
            report.problems.append(Problem(meta_name, "row is not an object", line=line))
            continue
        filename = _text(row.get("filename"))
        if not filename:
            report.problems.append(Problem(meta_name, "missing filename", line=line, field="filename"))
            continue
        if filename in seen:
            report.problems.append(Problem(filename, f"listed twice in {meta_name}", line=line))
            continue
        seen.add(filename)
        try:
            age = float(row.get("age_years"))
        except (TypeError, ValueError, OverflowError):
            report.problems.append(Problem(filename, f"age_years {_text(row.get('age_years'))[:40]!r} is not a number",
                                           line=line, field="age_years"))
            continue
        if not math.isfinite(age) or not AGE_MIN <= age <= AGE_MAX:
            report.problems.append(Problem(filename, f"age {age:g} is outside the accepted {AGE_MIN:g}-{AGE_MAX:g} years",
                                           line=line, field="age_years"))
            continue
        rel = _resolve(root, filename, by_name, meta_name, line, report.problems, seen)
        if rel is None:
            continue
        if rel in used:
            report.problems.append(Problem(filename, f"names the same file as another row of {meta_name} ({rel})",
                                           line=line))
            continue
        used.add(rel)
        path = root / rel
        if not path.is_file():
            report.problems.append(Problem(filename, "is not a file", line=line))
            continue
        size = path.stat().st_size
        if size > MAX_IMAGE_BYTES:
            report.problems.append(Problem(filename, f"file is {size / 2**20:.1f} MB, above the 10 MB limit"))
            continue
        blob = path.read_bytes()
        flags, reason = check_image(blob, rel)
        if reason:
            report.problems.append(Problem(filename, reason))
            continue
        label = _text(row.get("expert_label")).lower() or None
        subject = _text(row.get("subject")).lower() or None
        report.samples.append(SampleRecord(path=rel, group_key="age", group_value=age, label=label,
                                           flags=flags, meta={"subject": subject, "sha1": hashlib.sha1(blob).hexdigest()}))
    reported = {p.path for p in report.problems}
    report.problems += [p for p in walked if p.path not in reported and p.path not in seen]
    if meta_name is not None or not had_metadata:  # a refused metadata file is one problem, not one per image
        for rel in rels:
            if rel not in used and rel not in seen:
                report.problems.append(Problem(rel, f"image has no row in {meta_name or 'metadata'}; skipped"))
    labels = [s.label for s in report.samples]
    report.summary = {"metadata": meta_name, "anomalous": sum(map(is_anomalous, labels)),
                      "labelled": sum(1 for x in labels if x),
                      "flagged": sum(1 for s in report.samples if s.flags)}
    return report
