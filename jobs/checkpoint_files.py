"""A checkpoint row against the file on disk: a cheap look (exists, size, mtime) for every refresh,
a full sha256 check only when asked, and the bytes handed out only when they match the record."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from engine.checkpoints import sha256_file
from engine.trust import UntrustedModelError

# a save writes the file, then records its row: an mtime this much later means a rewrite since
REWRITE_SLACK_S = 2.0


@dataclass(frozen=True)
class FileState:
    exists: bool
    size: int | None = None
    mtime_ns: int | None = None
    rewritten: bool = False  # modified after its row was recorded (cheap hint; sha256 decides)


def file_state(path: str | Path, recorded_at: datetime | None) -> FileState:
    """What ``stat`` says about a checkpoint file, without reading it."""
    try:
        st = Path(path).stat()
    except OSError:
        return FileState(exists=False)
    rewritten = False
    if recorded_at is not None:
        recorded = recorded_at if recorded_at.tzinfo else recorded_at.replace(tzinfo=timezone.utc)
        rewritten = st.st_mtime > recorded.timestamp() + REWRITE_SLACK_S
    return FileState(exists=True, size=st.st_size, mtime_ns=st.st_mtime_ns, rewritten=rewritten)


def matches_record(path: str | Path, sha256: str) -> bool:
    """True when the file's sha256 equals the recorded one (reads the whole file)."""
    return bool(sha256) and sha256_file(Path(path)) == sha256


def verified_bytes(path: str | Path, sha256: str) -> bytes:
    """The file's bytes, after checking exactly those bytes against the recorded sha256."""
    p = Path(path)
    if not sha256:
        raise UntrustedModelError(f"checkpoint {p.name} has no recorded sha256; it cannot be verified")
    if not p.is_file():
        raise FileNotFoundError(f"checkpoint {p} is missing on this machine")
    data = p.read_bytes()  # hash what is handed out, not the file a moment earlier
    if hashlib.sha256(data).hexdigest() != sha256:
        raise UntrustedModelError(f"checkpoint {p.name} changed on disk since Trainyard wrote it")
    return data
