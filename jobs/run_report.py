"""``runs show RUN_ID``: one run as text: its state and notes, its manifest (what produced it)
and every file it recorded with size and sha256."""
from __future__ import annotations

import json
from typing import Any

from db import queries
from db.session import session_scope
from jobs.manifest import SUMMARY_KEYS, manifest_of

__all__ = ["run_record", "run_report"]


def _get(data: dict[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def run_record(run_id: int) -> dict[str, Any]:
    """The run, its manifest and its recorded files as plain data (``LookupError`` for no such run)."""
    with session_scope() as s:
        run = queries.get_run(session=s, run_id=run_id)
        if run is None:
            raise LookupError(f"no run with id {run_id}")
        files = queries.list_artifacts(session=s, run_id=run_id)
    return {"run": {"id": run.id, "name": run.name, "family": run.family, "task": run.task, "status": run.status.value,
                    "dataset_id": run.dataset_id, "description": run.description, "tags": list(run.tags or []),
                    "parent_id": run.parent_id, "cloned_from": run.cloned_from, "error": run.error,
                    "out_dir": run.out_dir, "summary": run.summary},
            "manifest": manifest_of(run_id),
            "artifacts": [{"path": a.path, "size": a.size, "sha256": a.sha256, "kind": a.kind} for a in files]}


def run_report(run_id: int) -> str:
    record = run_record(run_id)
    run, manifest, files = record["run"], record["manifest"], record["artifacts"]
    lines = [f"run {run['id']} {run['name']!r}: {run['family']}{' ' + run['task'] if run['task'] else ''}, "
             f"{run['status']}"]
    if run["description"]:
        lines.append(f"  description: {run['description']}")
    if run["tags"]:
        lines.append(f"  tags: {', '.join(run['tags'])}")
    for key in ("cloned_from", "parent_id"):
        if run[key]:
            lines.append(f"  {key.replace('_id', '').replace('_', ' ')}: run {run[key]}")
    if run["error"]:
        lines.append(f"  error: {run['error']}")
    lines.append(f"  folder: {run['out_dir'] or '—'}")
    lines.append("manifest:" if manifest else "manifest: none (recorded when a worker starts the run)")
    if manifest:
        for key in SUMMARY_KEYS:
            value = _get(manifest, key)
            lines.append(f"  {key}: {json.dumps(value) if isinstance(value, (dict, list)) else value}")
        splits = _get(manifest, "dataset.splits")
        if splits:
            lines.append("  dataset.splits: " + ", ".join(f"{k} {v}" for k, v in splits.items()))
        lines.append(f"  config: {json.dumps(manifest.get('config'), sort_keys=True)}")
    lines.append(f"artifacts: {len(files)} file(s)" if files else "artifacts: none recorded (recorded when the run ends)")
    width = max((len(f["path"]) for f in files), default=0)
    for f in files:
        lines.append(f"  {f['path']:<{width}}  {f['size']:>12,}  {f['sha256']}")
    return "\n".join(lines)
