"""File digests: the sha256 that every trust decision compares."""
from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ["sha256_file", "folder_sha256"]


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def folder_sha256(root: Path, known: Mapping[str, str] | None = None) -> str:
    """One digest of a folder's content: sha256 over the sorted ``path, size, digest`` lines of
    every file under it (paths relative, POSIX; digest the file's sha256). A symlink counts as the
    file it points to when that lies inside the folder and is skipped otherwise, as dataset scans
    treat links; equal digests, equal files. ``known`` maps paths to a digest already taken of
    exactly those bytes (``"sha1:…"`` from a scan that read them), so a file is not read twice."""
    base = Path(root).resolve()
    lines = []
    stack = [(str(base), "")]
    while stack:
        folder, prefix = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            rel = prefix + entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append((entry.path, rel + "/"))
                    continue
                path = entry.path
                if entry.is_symlink():
                    real = Path(path).resolve()
                    if base not in real.parents or not real.is_file():
                        continue
                    path = str(real)
                elif not entry.is_file(follow_symlinks=False):
                    continue
                digest = (known or {}).get(rel)
                if digest is None:
                    with open(path, "rb") as fh:
                        digest = hashlib.file_digest(fh, "sha256").hexdigest()
                lines.append(f"{rel}\0{os.path.getsize(path)}\0{digest}\n")
            except (OSError, RuntimeError):
                continue
    total = hashlib.sha256()
    for line in sorted(lines):
        total.update(line.encode("utf-8", "surrogateescape"))
    return total.hexdigest()
