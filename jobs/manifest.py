"""The reproducibility record of a run: stored when an attempt starts (after its inputs are
resolved and verified), read by the Progress page's *Reproduce* tab and ``runs show``.

It holds the project commit and whether the tree was dirty, Python and the installed packages
(with a digest over the set), the dataset (name, content hash, samples per split), the resolved
config and seed, the machine (host, CPU, GPUs, CUDA and driver), the worker and the training
process (its pid, parent and the work horse that waited on it), and the start
weights or resume checkpoint with their sha256."""
from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from db import queries
from db.models import utcnow
from db.session import session_scope
from engine import provenance
from engine.core import DatasetRef, VerifiedFile

log = logging.getLogger("trainyard.manifest")

__all__ = ["build_manifest", "record_manifest", "manifest_of", "manifest_diff", "SUMMARY_KEYS"]

# what the Reproduce tab and `runs show` lead with (dotted keys of the manifest)
SUMMARY_KEYS = ("code.commit", "code.dirty", "environment.python", "environment.packages_sha256",
                "dataset.name", "dataset.content_hash", "seed", "machine.host", "machine.cpu", "machine.cuda",
                "machine.gpu_driver", "worker", "device", "start_weights.sha256")


def _file(f: VerifiedFile | None) -> dict[str, Any] | None:
    if f is None:
        return None
    return {"what": f.what, "path": str(f.path), "sha256": f.sha256, **{k: v for k, v in dict(f.meta).items()
                                                                        if isinstance(v, (str, int, float))}}


def _dataset(dataset: DatasetRef | None) -> dict[str, Any] | None:
    if dataset is None:
        return None
    content_hash = None
    if dataset.id is not None:
        with session_scope() as s:
            row = queries.get_dataset(session=s, dataset_id=dataset.id)
            content_hash = row.content_hash if row else None
    splits = Counter(smp.split or "unsplit" for smp in dataset.samples)
    return {"id": dataset.id, "name": dataset.name, "kind": dataset.kind, "root": str(dataset.root),
            "content_hash": content_hash, "samples": len(dataset.samples), "splits": dict(sorted(splits.items()))}


def build_manifest(*, run_id: int, attempt: int, family: str, config, dataset: DatasetRef | None, ctx,
                   worker: str, process: dict[str, Any] | None = None) -> dict[str, Any]:
    """The manifest of one attempt, as plain JSON data."""
    data = config.model_dump(mode="json") if hasattr(config, "model_dump") else dict(config)
    return {"run": {"id": run_id, "attempt": attempt, "family": family, "task": data.get("task")},
            "created_at": utcnow().isoformat(), "code": provenance.code_version(),
            "environment": provenance.environment(), "dataset": _dataset(dataset), "config": data,
            "seed": data.get("seed"), "machine": provenance.machine(), "worker": worker, "process": process,
            "device": getattr(ctx, "device", None), "start_weights": _file(getattr(ctx, "init_weights", None)),
            "resume": _file(getattr(ctx, "resume", None)),
            "extra_datasets": [_dataset(ref) for ref in getattr(ctx, "extra_datasets", None) or ()],
            "base_weights": [_file(f) for f in getattr(ctx, "base_weights", None) or []]}


def record_manifest(*, run_id: int, attempt: int, family: str, config, dataset: DatasetRef | None, ctx,
                    worker: str, process: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """Build and store the manifest; a failure is logged and never stops the run."""
    try:
        manifest = build_manifest(run_id=run_id, attempt=attempt, family=family, config=config, dataset=dataset,
                                  ctx=ctx, worker=worker, process=process)
        with session_scope() as s:
            queries.save_manifest(session=s, run_id=run_id, attempt=attempt, data=manifest)
        code = manifest["code"]
        log.info("run %s: manifest stored (commit %s%s, %d packages %s…)", run_id, (code.get("commit") or "?")[:12],
                 ", dirty" if code.get("dirty") else "", manifest["environment"]["packages_count"],
                 manifest["environment"]["packages_sha256"][:12])
        return manifest
    except Exception:
        log.exception("run %s: could not store its manifest", run_id)
        return None


def manifest_of(run_id: int) -> dict[str, Any] | None:
    """The newest attempt's manifest of a run, or None."""
    with session_scope() as s:
        row = queries.latest_manifest(session=s, run_id=run_id)
        return dict(row.data) if row else None


def manifest_diff(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """What differs between two manifests, leaving out what always does (ids, times)."""
    return provenance.diff(a, b, ignore=("run.id", "run.attempt", "created_at", "process.pid", "process.parent_pid",
                                         "process.work_horse_pid"))
