"""The ``drawings`` dataset kind: a folder of images plus ``metadata.csv`` or ``metadata.json``.

Metadata rows carry ``filename`` (relative to the folder), ``age_years``, ``subject`` and
``expert_label`` (``normal``, ``anomalous`` or empty). Every bad row or file is reported by
name and reason and left out; the rest imports. Images that decode but look wrong (tiny,
blank) import with a flag, so the sufficiency page can show them.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path
from typing import Any

from engine.datasets import Problem, SampleRecord, ScanReport
from engine.families.anomaly.config import AGE_MAX, AGE_MIN

__all__ = ["scan", "check_image", "IMAGE_SUFFIXES", "MAX_IMAGE_BYTES", "MIN_SIDE", "ANOMALOUS", "is_anomalous"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
MAX_IMAGE_BYTES = 10 * 1024 * 1024
MIN_SIDE = 32  # pixels; smaller images are flagged "tiny"
BLANK_STD = 2.0  # grey-level standard deviation below which an image is flagged "blank"
ANOMALOUS = "anomalous"
METADATA_FILES = ("metadata.csv", "metadata.json")


def is_anomalous(label: str | None) -> bool:
    return (label or "").strip().lower() == ANOMALOUS


def check_image(data: bytes, name: str) -> tuple[list[str], str | None]:
    """Decode ``data`` fully; return ``(flags, reason)`` where ``reason`` says why it is unusable."""
    from PIL import Image, ImageStat, UnidentifiedImageError

    if not name.lower().endswith(IMAGE_SUFFIXES):
        return [], f"not a PNG, JPEG or BMP file ({Path(name).suffix or 'no extension'})"
    if len(data) > MAX_IMAGE_BYTES:
        return [], f"file is {len(data) / 2**20:.1f} MB, above the 10 MB limit"
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            grey = img.convert("L")
            w, h = img.size
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        return [], f"corrupt or unreadable image ({type(exc).__name__}: {exc})"
    flags = []
    if min(w, h) < MIN_SIDE:
        flags.append("tiny")
    if ImageStat.Stat(grey).stddev[0] < BLANK_STD:
        flags.append("blank")
    return flags, None


def _read_rows(root: Path, problems: list[Problem]) -> tuple[str | None, list[tuple[int, dict[str, Any]]]]:
    for name in METADATA_FILES:
        path = root / name
        if not path.exists():
            continue
        try:
            if name.endswith(".csv"):
                with open(path, newline="", encoding="utf-8-sig") as fh:
                    return name, [(i + 2, row) for i, row in enumerate(csv.DictReader(fh))]  # line 1 = header
            data = json.loads(path.read_text())
            if isinstance(data, dict):
                data = data.get("drawings") or data.get("samples") or []
            if not isinstance(data, list):
                problems.append(Problem(name, "expected a list of objects (or {\"drawings\": [...]})"))
                return name, []
            return name, [(i + 1, row) for i, row in enumerate(data)]
        except (OSError, ValueError, csv.Error) as exc:
            problems.append(Problem(name, f"cannot read metadata: {exc}"))
            return name, []
    problems.append(Problem(".", "no metadata.csv or metadata.json in the folder"))
    return None, []


def scan(root: Path, **_: Any) -> ScanReport:
    """Check every metadata row and its image; return the valid samples and each problem."""
    root = Path(root)
    report = ScanReport(kind="drawings", root=root)
    meta_name, rows = _read_rows(root, report.problems)
    seen: set[str] = set()
    base = root.resolve()  # once, not per row: resolving walks the path on disk
    listed: set[str] = set()
    for line, row in rows:
        if not isinstance(row, dict):
            report.problems.append(Problem(meta_name, "row is not an object", line=line))
            continue
        filename = str(row.get("filename") or "").strip()
        if not filename:
            report.problems.append(Problem(meta_name, "missing filename", line=line, field="filename"))
            continue
        if filename in seen:
            report.problems.append(Problem(filename, f"listed twice in {meta_name}", line=line))
            continue
        seen.add(filename)
        path = (root / filename).resolve()
        listed.add(str(path))
        if base not in path.parents:
            report.problems.append(Problem(filename, "path leaves the dataset folder", line=line, field="filename"))
            continue
        try:
            age = float(row.get("age_years"))
        except (TypeError, ValueError):
            report.problems.append(Problem(filename, f"age_years {row.get('age_years')!r} is not a number",
                                           line=line, field="age_years"))
            continue
        if not AGE_MIN <= age <= AGE_MAX:
            report.problems.append(Problem(filename, f"age {age:g} is outside the accepted {AGE_MIN:g}-{AGE_MAX:g} years",
                                           line=line, field="age_years"))
            continue
        if not path.is_file():
            report.problems.append(Problem(filename, f"file not found (listed in {meta_name})", line=line))
            continue
        blob = path.read_bytes()
        flags, reason = check_image(blob, filename)
        if reason:
            report.problems.append(Problem(filename, reason))
            continue
        label = (str(row.get("expert_label") or "").strip().lower()) or None
        subject = (str(row.get("subject") or "").strip().lower()) or None
        report.samples.append(SampleRecord(path=filename, group_key="age", group_value=age, label=label,
                                           flags=flags, meta={"subject": subject, "sha1": hashlib.sha1(blob).hexdigest()}))
    for img in sorted(root.rglob("*")):
        if img.suffix.lower() not in IMAGE_SUFFIXES or img.relative_to(root).as_posix() in seen:
            continue  # listed under its plain name: no need to resolve it
        if str(img.resolve()) not in listed:
            report.problems.append(Problem(str(img.relative_to(root)), f"image has no row in {meta_name or 'metadata'}; skipped"))
    labels = [s.label for s in report.samples]
    report.summary = {"metadata": meta_name, "anomalous": sum(map(is_anomalous, labels)),
                      "labelled": sum(1 for x in labels if x),
                      "flagged": sum(1 for s in report.samples if s.flags)}
    return report
