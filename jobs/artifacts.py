"""A run's files as pages see them. The worker records every file of the run folder (path, size,
sha256) when the run ends; a page lists that record against the disk, and hands out bytes only
from inside the run folder (no ``..``, no symlinks) and only while they still have the sha256
recorded for them. A live run's files are shown as they are, marked as not recorded yet."""
from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from db import queries
from db.models import Artifact, Run
from db.session import session_scope
from engine.artifacts import OutsideRunFolder, RunFile, kind_of, read_confined, walk

__all__ = ["ArtifactRefused", "OutsideRunFolder", "RunFiles", "scan", "record", "run_files", "verified_bytes",
           "live_bytes", "read", "zip_bytes", "ZIP_MAX_BYTES"]

ZIP_MAX_BYTES = 512 << 20  # beyond this the files go one by one: a zip is built in memory


class ArtifactRefused(ValueError):
    """A recorded file that may not be handed out: changed on disk since, missing, or never recorded."""


@dataclass
class RunFiles:
    """The files of one run: ``recorded`` once it ended (with sha256), else ``live`` from disk."""
    run: Run
    recorded: list[Artifact] = field(default_factory=list)
    live: list[RunFile] = field(default_factory=list)
    truncated: bool = False

    @property
    def is_recorded(self) -> bool:
        return bool(self.recorded)

    @property
    def entries(self) -> list:
        return self.recorded or self.live


def scan(out_dir: Path) -> tuple[list[dict], bool]:
    """Every plain file of a run folder with its size, sha256 and kind (worker side)."""
    files, truncated = walk(out_dir)
    return [f.as_dict() for f in files], truncated


def record(*, session, run_id: int, files: list[dict]) -> int:
    return queries.replace_artifacts(session=session, run_id=run_id, files=files)


def run_files(run_id: int) -> RunFiles:
    """The recorded files of a run; for a run without a record (live, or lost before it could
    record), what its folder holds now (sizes only, no digests)."""
    with session_scope() as s:
        run = queries.get_run(session=s, run_id=run_id)
        if run is None:
            raise LookupError(f"no run with id {run_id}")
        recorded = queries.list_artifacts(session=s, run_id=run_id)
    out = RunFiles(run=run, recorded=recorded)
    if not recorded and run.out_dir:
        out.live, out.truncated = walk(Path(run.out_dir), digests=False)
    return out


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def verified_bytes(run_id: int, path: str) -> bytes:
    """The bytes of a recorded file of the run, read from inside its folder and checked against
    the sha256 recorded for it: ``OutsideRunFolder`` for a path that leaves the folder or is a
    link, ``ArtifactRefused`` for a file never recorded or changed since."""
    with session_scope() as s:
        run = queries.get_run(session=s, run_id=run_id)
        if run is None:
            raise LookupError(f"no run with id {run_id}")
        artifact = queries.get_artifact(session=s, run_id=run_id, path=path)
    if not run.out_dir:
        raise ArtifactRefused(f"run {run_id} has no folder")
    data = read_confined(Path(run.out_dir), path)  # refuses '..', absolute paths and links first
    if artifact is None:
        raise ArtifactRefused(f"{path} is not recorded for run {run_id}; only files recorded when the run "
                              f"ended are handed out")
    if _sha(data) != artifact.sha256:
        raise ArtifactRefused(f"{path} changed on disk since run {run_id} recorded it (sha256 mismatch); "
                              f"not handed out")
    return data


def live_bytes(run_id: int, path: str) -> bytes:
    """A file of a run that has no record yet (still running), as it is now, from inside its folder."""
    with session_scope() as s:
        run = queries.get_run(session=s, run_id=run_id)
    if run is None or not run.out_dir:
        raise LookupError(f"no folder for run {run_id}")
    return read_confined(Path(run.out_dir), path)


def read(files: RunFiles, path: str) -> bytes:
    """A file of ``files``: checked against its record when the run recorded its files, else as it is now."""
    return verified_bytes(files.run.id, path) if files.is_recorded else live_bytes(files.run.id, path)


def zip_bytes(run_id: int, *, max_bytes: int = ZIP_MAX_BYTES) -> bytes:
    """Every recorded file of the run in one zip, each checked like ``verified_bytes``; a file
    that fails its check is left out and named in ``NOT-INCLUDED.txt`` inside the zip."""
    with session_scope() as s:
        recorded = queries.list_artifacts(session=s, run_id=run_id)
    total = sum(a.size for a in recorded)
    if total > max_bytes:
        raise ArtifactRefused(f"run {run_id}'s files add up to {total:,} bytes, over the {max_bytes:,}-byte zip "
                              f"limit; download them one by one")
    buffer, refused = io.BytesIO(), []
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for a in recorded:
            try:
                data = verified_bytes(run_id, a.path)
            except (ArtifactRefused, OutsideRunFolder, OSError) as exc:
                refused.append(f"{a.path}: {exc}")
                continue
            zf.writestr(f"run-{run_id}/{a.path}",
                        data, compress_type=zipfile.ZIP_STORED if kind_of(a.path) in ("image", "checkpoint")
                        else zipfile.ZIP_DEFLATED)
        if refused:
            zf.writestr(f"run-{run_id}/NOT-INCLUDED.txt", "\n".join(refused) + "\n")
    return buffer.getvalue()
