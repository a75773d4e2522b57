"""Dataset kinds: how a folder of data is scanned, checked and generated.

A kind's scanner returns plain records (``ScanReport``); ``jobs.datasets`` stores them as
Dataset and Sample rows. Every problem names the file (and line or field) and the reason, and
a scan never stops at the first bad file: the valid rest still imports.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.core import Registry

__all__ = ["SampleRecord", "Problem", "ScanReport", "DatasetKind", "DATASET_KINDS", "register_kind",
           "confine"]


@dataclass
class SampleRecord:
    path: str  # relative to the dataset root
    group_key: str | None = None  # age, category, class, identity, patient
    group_value: float | None = None
    label: str | None = None
    split: str | None = None
    flags: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Problem:
    path: str
    reason: str
    line: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = self.path + (f":{self.line}" if self.line is not None else "")
        return f"{where}: {self.field + ': ' if self.field else ''}{self.reason}"


@dataclass
class ScanReport:
    kind: str
    root: Path
    samples: list[SampleRecord] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DatasetKind:
    """``scan_path`` names ``scan(root: Path, **options) -> ScanReport``; ``sample_path`` names
    ``generate(dest: Path, **options) -> Path`` (a folder ready to scan)."""
    key: str
    title: str
    scan_path: str
    sample_path: str | None = None
    sample_choices: tuple[tuple[str, tuple[str, ...]], ...] = ()  # generator options the page offers, e.g. task

    def scan(self, root: Path, **options: Any) -> ScanReport:
        return _load(self.scan_path)(Path(root), **options)

    def generate(self, dest: Path, **options: Any) -> Path:
        if not self.sample_path:
            raise ValueError(f"dataset kind {self.key!r} has no sample-data generator")
        return _load(self.sample_path)(Path(dest), **options)


def _load(path: str) -> Callable[..., Any]:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


DATASET_KINDS: Registry[DatasetKind] = Registry("dataset kind")
register_kind = DATASET_KINDS.register


def confine(root: Path, data_root: Path) -> Path:
    """Resolve ``root`` and refuse anything outside ``data_root`` (no ``..`` or symlink escapes)."""
    resolved = Path(root).expanduser().resolve()
    base = Path(data_root).expanduser().resolve()
    if resolved != base and base not in resolved.parents:
        raise ValueError(f"dataset folder {resolved} is outside the data root {base}")
    return resolved
