"""Dataset kinds: how a folder of data is scanned, checked and generated.

A kind's scanner returns plain records (``ScanReport``); ``jobs.datasets`` stores them as
Dataset and Sample rows. Every problem names the file (and line or field) and the reason, and
a scan never stops at the first bad file: the valid rest still imports.
"""
from __future__ import annotations

import importlib
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.core import Registry
from engine.safeio import UnsafeFile, inside, is_within

__all__ = ["SampleRecord", "Problem", "ScanReport", "DatasetKind", "DATASET_KINDS", "register_kind",
           "confine", "folder_name", "printable", "confined", "list_files"]

MAX_REASON_CHARS = 500  # one problem line; a path or reason quoting a huge value is cut here
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def printable(text: str) -> str:
    """``text`` safe to store and show on one line: bytes of a non-UTF-8 file name (surrogate
    escapes) become U+FFFD, control characters (newlines included) become ``\\xNN``."""
    if _has_surrogates(text):
        try:
            raw = text.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:  # a lone surrogate from a JSON escape, not from a file name
            raw = text.encode("utf-8", "replace")
        text = raw.decode("utf-8", "replace")
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


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

    def __post_init__(self) -> None:
        # problems are stored and shown: never let a file name break a line or the database
        for name in ("path", "reason"):
            text = printable(str(getattr(self, name)))
            object.__setattr__(self, name, text[:MAX_REASON_CHARS] + "…" if len(text) > MAX_REASON_CHARS else text)

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
    if not is_within(resolved, base):
        raise ValueError(f"dataset folder {resolved} is outside the data root {base}")
    return resolved


def folder_name(name: str) -> str:
    """``name`` if it is a plain folder name (no separators, not ``.``/``..``, no control
    characters); else ``ValueError``. Checked before anything is written or deleted."""
    if not isinstance(name, str) or not name.strip() or name in (".", "..") or "/" in name or "\\" in name \
            or _CONTROL.search(name) or _has_surrogates(name) or name != name.strip():
        raise ValueError(f"dataset name {name!r} is not a plain folder name (no '/', '\\' or '..'); choose another")
    return name


def confined(root: Path, rel: str | Path, problems: list[Problem], *, line: int | None = None,
             field: str | None = None, shown: str | None = None) -> Path | None:
    """``root / rel`` resolved (symlinks followed) when it stays inside ``root``; otherwise one
    ``Problem`` naming it (``shown``, default ``rel``) and None. Nothing is read either way."""
    try:
        return inside(root, rel)
    except UnsafeFile as exc:
        problems.append(Problem(str(shown if shown is not None else rel), str(exc), line=line, field=field))
        return None


def list_files(root: Path, folder: Path, suffixes: Iterable[str], problems: list[Problem]) -> list[Path]:
    """Files under ``folder`` whose suffix is in ``suffixes``, sorted, as paths under ``root``.

    Never leaves ``root``: a link that resolves outside it, a file name that is not UTF-8 and a
    folder named like one of the files are each one ``Problem`` and skipped; linked folders are
    not descended into (a link loop cannot hang the scan). Nothing is opened.
    """
    root = Path(root)
    suffixes = {s.lower() for s in suffixes}
    out: list[Path] = []

    def rel(p: Path) -> str:
        try:
            return p.relative_to(root).as_posix()
        except ValueError:
            return str(p)

    def named(name: str) -> bool:
        return os.path.splitext(name)[1].lower() in suffixes

    for top, dirs, files in os.walk(folder, followlinks=False):
        here = Path(top)
        keep = []
        for d in sorted(dirs):
            p = here / d
            if _has_surrogates(d):
                problems.append(Problem(rel(p), "folder name is not valid UTF-8; rename it (not read)"))
            elif p.is_symlink() and confined(root, p, problems, shown=rel(p)) is None:
                pass
            elif p.is_symlink():
                continue  # an inside link: its target is scanned where it lives
            else:
                if named(d):
                    problems.append(Problem(rel(p), "a folder named like an image file; its name is not an image"))
                keep.append(d)
        dirs[:] = keep
        for f in sorted(files):
            p = here / f
            if not named(f):
                continue
            if _has_surrogates(f):
                problems.append(Problem(rel(p), "file name is not valid UTF-8; rename it (not read)"))
            elif confined(root, p, problems, shown=rel(p)) is not None:
                out.append(p)
    return sorted(out)
