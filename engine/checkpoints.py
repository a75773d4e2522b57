"""Self-describing checkpoints: weights, optimizer, config, step and best metric in one file."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


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
