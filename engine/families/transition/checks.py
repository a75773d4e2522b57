"""The seed's pre-training checklist, checked before a transition run trains: the dataset folder
and every patient folder of the split exist and hold their ``transitions_dataset.json``, and the
run folder's disk has ``min_free_disk_mb`` free for checkpoints and logs."""
from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

from engine.families.transition.data import DATASET_FILE
from engine.safeio import UnsafeFile, inside

__all__ = ["pretraining_problems"]


def pretraining_problems(root: Path, patients: Iterable[str], out_dir: Path, min_free_mb: int) -> list[str]:
    """What stops the run before it trains, each naming the folder or the space (empty: go)."""
    root = Path(root)
    if not root.is_dir():
        return [f"the dataset folder {root} does not exist (moved or unmounted since import?)"]
    problems = []
    for patient in sorted(set(patients)):
        try:
            folder = inside(root, patient)
        except UnsafeFile as exc:
            problems.append(f"patient {patient!r}: {exc}")
            continue
        if not folder.is_dir():
            problems.append(f"patient folder {folder} does not exist")
        elif not (folder / DATASET_FILE).is_file():
            problems.append(f"patient folder {folder} has no {DATASET_FILE}")
    if min_free_mb:
        free_mb = shutil.disk_usage(Path(out_dir)).free / 2**20
        if free_mb < min_free_mb:
            problems.append(f"the run folder's disk has {free_mb:.0f} MB free, below min_free_disk_mb={min_free_mb} "
                            "(checkpoints and logs need room; free some or lower the setting)")
    return problems
