"""A run folder's files: what a run wrote (path inside the folder, size, sha256, kind), found
without following a symlink, and a path asked for by name resolved only inside the folder.

Symlinks are never listed, followed or served: a run's folder may hold links into its dataset
(YOLO's training view), and a link planted there must not lead a download anywhere else.
"""
from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath

from engine.safeio import is_within

__all__ = ["RunFile", "OutsideRunFolder", "KINDS", "MAX_FILES", "kind_of", "walk", "confined", "read_confined"]

MAX_FILES = 5000  # a folder with more lists its first files (sorted) and says so
KINDS = {
    "image": {".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp"},
    "table": {".csv", ".tsv"},
    "json": {".json"},
    "text": {".txt", ".log", ".yaml", ".yml", ".md"},
    "checkpoint": {".pt", ".pth", ".ckpt", ".safetensors", ".zip", ".onnx"},
}


class OutsideRunFolder(ValueError):
    """A file asked for by a path that is not a plain file inside the run folder."""


@dataclass(frozen=True)
class RunFile:
    path: str  # POSIX, relative to the run folder
    size: int
    sha256: str
    kind: str

    def as_dict(self) -> dict:
        return asdict(self)


def kind_of(name: str) -> str:
    suffix = PurePosixPath(name).suffix.lower()
    return next((kind for kind, suffixes in KINDS.items() if suffix in suffixes), "other")


def _digest(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def walk(root: Path, *, limit: int = MAX_FILES, digests: bool = True) -> tuple[list[RunFile], bool]:
    """Every regular file under ``root`` (symlinks skipped, never followed), sorted by path, with
    its sha256 (``digests=False``: an empty string, for a quick look at a live run); and whether
    the listing stopped at ``limit`` files."""
    root = Path(root)
    if not root.is_dir():
        return [], False
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in filenames:
            p = Path(dirpath) / name
            try:
                mode = p.lstat().st_mode
            except OSError:
                continue
            if stat.S_ISREG(mode):
                found.append(p)
    found.sort(key=lambda p: p.relative_to(root).as_posix())
    truncated = len(found) > limit
    files = []
    for p in found[:limit]:
        try:
            files.append(RunFile(path=p.relative_to(root).as_posix(), size=p.lstat().st_size, sha256=_digest(p) if digests else "",
                                 kind=kind_of(p.name)))
        except OSError:  # vanished or replaced by a link since the walk
            continue
    return files, truncated


def confined(root: Path, rel: str) -> Path:
    """``rel`` as a plain file inside ``root``: refuses absolute paths, ``..``, empty or odd
    names, and a symlink anywhere on the way (the folder itself may be reached through one)."""
    if not rel or "\x00" in rel or "\\" in rel:
        raise OutsideRunFolder(f"{rel!r} is not a file name inside the run folder")
    parts = PurePosixPath(rel).parts
    if PurePosixPath(rel).is_absolute() or any(p in ("", ".", "..") for p in parts):
        raise OutsideRunFolder(f"{rel!r} leads outside the run folder; only files inside it are served")
    try:
        base = Path(root).resolve(strict=True)
    except (OSError, RuntimeError):
        raise OutsideRunFolder(f"the run folder {root} is missing on this machine") from None
    current = base
    for part in parts:
        current = current / part
        if current.is_symlink():
            raise OutsideRunFolder(f"{rel!r} is a symbolic link; only files the run wrote are served")
    if not is_within(current.resolve(), base) or not current.is_file():
        raise OutsideRunFolder(f"{rel!r} is not a file inside the run folder")
    return current


def read_confined(root: Path, rel: str) -> bytes:
    """The bytes of ``confined(root, rel)``, opened without following a link placed there since
    the check."""
    path = confined(root, rel)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise OutsideRunFolder(f"{rel!r} cannot be opened as a plain file ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as fh:
        return fh.read()
