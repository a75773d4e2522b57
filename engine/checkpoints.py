"""Self-describing checkpoints: weights, optimizer, config, step and best metric in one file."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.digests import sha256_file

__all__ = ["sha256_file", "save_checkpoint", "load_checkpoint", "load_verified", "snapshot"]


def save_checkpoint(path: Path, state: dict[str, Any]) -> Path:
    """Write atomically (temp file + rename) so a crash never leaves half a checkpoint."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(state, tmp)
    tmp.replace(path)
    return path


def load_checkpoint(path: Path, map_location: str = "cpu") -> dict[str, Any]:
    """Load tensors and plain data only: checkpoints are never unpickled."""
    import torch

    return torch.load(Path(path), map_location=map_location, weights_only=True)


def snapshot(path: Path, step: int, *, keep: int = 2) -> Path:
    """Copy ``path`` to ``<stem>-step<NNNNNN><suffix>`` beside it and delete the older copies
    beyond the ``keep`` newest; return the copy.

    For a library that rewrites one file every epoch (Ultralytics' ``last.pt``): each registered
    checkpoint then keeps the bytes its sha256 was recorded for, so a resume can verify it, and a
    kill between a rewrite and its registration leaves the previous copy intact to resume from.
    """
    import shutil

    path = Path(path)
    dest = path.with_name(f"{path.stem}-step{int(step):06d}{path.suffix}")
    tmp = dest.with_suffix(dest.suffix + ".tmp")
    shutil.copyfile(path, tmp)
    tmp.replace(dest)
    copies = sorted(path.parent.glob(f"{path.stem}-step[0-9]*{path.suffix}"))
    for old in copies[:-keep] if keep > 0 else []:
        if old != dest:
            old.unlink(missing_ok=True)
    return dest


def load_verified(path: Path, sha256: str | None, *, what: str = "checkpoint",
                  map_location: str = "cpu") -> dict[str, Any]:
    """``load_checkpoint`` after checking that the file still has the digest it was recorded
    with (``engine.trust.UntrustedModelError`` when not): the one way a trainer loads a
    checkpoint or start weights the worker handed it."""
    from engine.trust import verify_recorded

    return load_checkpoint(verify_recorded(path, sha256, what=what), map_location=map_location)
