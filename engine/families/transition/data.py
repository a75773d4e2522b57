"""The ``transitions`` dataset kind: patient folders, each with ``transitions_dataset.json``.

Layout (the Cardiac Dreamer layout)::

    root/
      patient_01/transitions_dataset.json   [{"ft1_image_path": "ft1/0001.png",
      patient_01/ft1/0001.png                 "ft2_image_path": "ft2/0001.png",
      patient_01/ft2/0001.png                 "at1_6dof": [x, y, z, roll, pitch, yaw],
      patient_02/...                          "action_change_6dof": [dx, ...],
                                              "at2_6dof": [x2, ...]}, ...]

Image paths are relative to the patient folder and must stay inside it. Every bad record is one
problem naming the file, the record and the field; the rest imports. ``at2`` that differs from
``at1 + change`` by more than the tolerance is a warning: the record imports, flagged
``inconsistent_at2`` (the main task learns ``action_change_6dof``; ``at2`` only feeds the
auxiliary loss).
"""
from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

from engine.datasets import Problem, SampleRecord, ScanReport
from engine.families.transition.config import AXES
from engine.safeio import UnsafeFile, check_image, inside, load_json

__all__ = ["scan", "DATASET_FILE", "VECTOR_FIELDS", "IMAGE_FIELDS", "AT2_TOLERANCE", "action_stats",
           "parse_vector"]

DATASET_FILE = "transitions_dataset.json"
IMAGE_FIELDS = ("ft1_image_path", "ft2_image_path")
VECTOR_FIELDS = ("at1_6dof", "action_change_6dof", "at2_6dof")
AT2_TOLERANCE = 1e-3  # absolute + relative: rounding in exported poses stays below this
INCONSISTENT = "inconsistent_at2"


def parse_vector(value: Any) -> list[float]:
    """Six finite numbers, or ``ValueError`` saying what is wrong."""
    if not isinstance(value, list):
        raise ValueError(f"expected a list of 6 numbers, got {type(value).__name__}")
    if len(value) != 6:
        raise ValueError(f"expected 6 numbers, got {len(value)}")
    out = []
    for i, v in enumerate(value):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError(f"value {i} ({AXES[i]}) is not a number: {v!r}")
        if not math.isfinite(v):
            raise ValueError(f"value {i} ({AXES[i]}) is not finite: {v!r}")
        out.append(float(v))
    return out


def _records(path: Path, rel: str, problems: list[Problem]) -> list[Any]:
    try:
        data = load_json(path)
    except (UnsafeFile, OSError) as exc:
        problems.append(Problem(rel, str(exc)))
        return []
    if isinstance(data, dict):
        data = data.get("transitions", data.get("samples"))
    if not isinstance(data, list):
        problems.append(Problem(rel, "expected a list of transition records (or {\"transitions\": [...]})"))
        return []
    return data


def _scan_group(root: Path, group: Path, report: ScanReport, frames: dict[Path, str | None]) -> int:
    rel_json = f"{group.name}/{DATASET_FILE}"
    kept = 0
    for i, rec in enumerate(_records(group / DATASET_FILE, rel_json, report.problems)):
        where = f"record {i}"
        if not isinstance(rec, dict):
            report.problems.append(Problem(rel_json, "record is not an object", field=where))
            continue
        bad = False
        images: dict[str, str] = {}
        for name in IMAGE_FIELDS:
            value = rec.get(name)
            if not isinstance(value, str) or not value.strip():
                report.problems.append(Problem(rel_json, "missing image path", field=f"{where}.{name}"))
                bad = True
                continue
            try:
                path = inside(group, value.strip())
            except UnsafeFile as exc:
                report.problems.append(Problem(rel_json, f"{value}: {exc}", field=f"{where}.{name}"))
                bad = True
                continue
            shown = f"{group.name}/{value.strip()}"
            if path not in frames:
                if not path.is_file():
                    frames[path] = f"file not found (listed in {rel_json} {where}.{name})"
                else:
                    try:
                        check_image(path)
                        frames[path] = None
                    except (UnsafeFile, OSError) as exc:
                        frames[path] = str(exc)
            if frames[path] is not None:
                report.problems.append(Problem(shown, frames[path], field=None))
                bad = True
                continue
            images[name] = path.relative_to(root.resolve()).as_posix()
        vectors: dict[str, list[float]] = {}
        for name in VECTOR_FIELDS:
            try:
                vectors[name] = parse_vector(rec.get(name))
            except ValueError as exc:
                reason = "missing" if name not in rec else str(exc)
                report.problems.append(Problem(rel_json, reason, field=f"{where}.{name}"))
                bad = True
        if bad:
            continue
        flags = []
        at1, change, at2 = (vectors[n] for n in VECTOR_FIELDS)
        off = [(AXES[k], at2[k] - (at1[k] + change[k])) for k in range(6)
               if abs(at2[k] - (at1[k] + change[k])) > AT2_TOLERANCE * (1 + abs(at2[k]))]
        if off:
            flags.append(INCONSISTENT)
            detail = ", ".join(f"{axis} off by {d:+.4g}" for axis, d in off)
            report.problems.append(Problem(rel_json, f"warning: at2 differs from at1 + change ({detail}); "
                                           f"imported, flagged {INCONSISTENT}", field=where))
        report.samples.append(SampleRecord(
            path=f"{rel_json}#{i}", group_key="patient", label=group.name, flags=flags,
            meta={"ft1": images["ft1_image_path"], "ft2": images["ft2_image_path"], "index": i,
                  "at1": at1, "change": change, "at2": at2}))
        kept += 1
    return kept


def action_stats(samples) -> dict[str, dict[str, float]]:
    """Mean, std, min and max of ``action_change_6dof`` per axis over samples (rows or records)."""
    values = [list((s.meta or {}).get("change") or []) for s in samples]
    values = [v for v in values if len(v) == 6]
    out: dict[str, dict[str, float]] = {}
    for k, axis in enumerate(AXES):
        col = [v[k] for v in values]
        if not col:
            continue
        mean = sum(col) / len(col)
        std = math.sqrt(sum((c - mean) ** 2 for c in col) / len(col))
        out[axis] = {"mean": mean, "std": std, "min": min(col), "max": max(col)}
    return out


def scan(root: Path, **_: Any) -> ScanReport:
    """Check every patient folder, record and frame; return the valid transitions and each problem."""
    root = Path(root)
    report = ScanReport(kind="transitions", root=root)
    frames: dict[Path, str | None] = {}  # frames shared by several records are decoded once
    groups = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    used = []
    for group in groups:
        try:
            inside(root, group)
        except UnsafeFile as exc:
            report.problems.append(Problem(group.name, str(exc)))
            continue
        if not (group / DATASET_FILE).is_file():
            report.problems.append(Problem(group.name, f"no {DATASET_FILE} in this folder; not a patient group, skipped"))
            continue
        if _scan_group(root, group, report, frames):
            used.append(group.name)
        else:
            report.problems.append(Problem(f"{group.name}/{DATASET_FILE}", "no valid transitions in this group"))
    if not groups:
        report.problems.append(Problem(".", f"no patient folders (each with {DATASET_FILE})"))
    per_group = Counter(s.label for s in report.samples)
    report.summary = {"groups": dict(sorted(per_group.items())), "n_groups": len(per_group),
                      "action_stats": action_stats(report.samples),
                      "flagged": sum(1 for s in report.samples if s.flags)}
    return report
