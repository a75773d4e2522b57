"""Import a dataset folder: scan it with its kind's scanner, store Dataset and Sample rows."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import delete

from db import queries
from db.models import Dataset, Embedding, Sample
from db.session import session_scope
from engine.datasets import DATASET_KINDS, ScanReport, confine
from engine.families import FAMILIES  # noqa: F401  (registers the families' dataset kinds)
from settings import get_settings


def import_dataset(*, name: str, kind: str, root: Path, replace: bool = False,
                   **options: Any) -> tuple[Dataset, ScanReport]:
    """Scan ``root`` (which must lie under the data root) and store what is valid.

    Problems are kept in the dataset summary, each naming its file and reason. With
    ``replace`` an existing dataset of that name is rescanned in place (its id stays).
    """
    scanner = DATASET_KINDS[kind]
    root = confine(root, get_settings().resolved_data_root)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset folder {root} does not exist")
    report = scanner.scan(root, **options)
    summary = {**report.summary, "samples": len(report.samples),
               "problems": [str(p) for p in report.problems]}
    with session_scope() as s:
        dataset = queries.get_dataset_by_name(session=s, name=name)
        if dataset is not None and not replace:
            raise ValueError(f"a dataset named {name!r} exists already; choose another name or replace it")
        if dataset is None:
            dataset = queries.create_dataset(session=s, name=name, kind=kind, root=str(root), summary=summary)
            queries.add_samples(session=s, rows=[_sample_values(dataset.id, r) for r in report.samples])
        else:
            dataset.kind, dataset.root, dataset.summary = kind, str(root), summary
            _upsert_samples(s, dataset.id, report)
    return dataset, report


def _sample_values(dataset_id: int, r) -> dict[str, Any]:
    return {"dataset_id": dataset_id, "path": r.path, "group_key": r.group_key, "group_value": r.group_value,
            "label": r.label, "split": r.split, "flags": list(r.flags), "meta": dict(r.meta)}


def _sample_row(dataset_id: int, r) -> Sample:
    return Sample(dataset_id=dataset_id, path=r.path, group_key=r.group_key, group_value=r.group_value,
                  label=r.label, split=r.split, flags=list(r.flags), meta=dict(r.meta))


def _upsert_samples(s, dataset_id: int, report: ScanReport) -> None:
    """Rescan in place, keyed by path: unchanged paths keep their ids (and so their embeddings);
    a sample whose file content (``meta['sha1']`` where the kind records it) or group value
    changed loses its embeddings; samples no longer present are deleted with theirs."""
    existing = {smp.path: smp for smp in queries.dataset_samples(session=s, dataset_id=dataset_id)}
    stale: list[int] = []
    for r in report.samples:
        old = existing.pop(r.path, None)
        if old is None:
            s.add(_sample_row(dataset_id, r))
            continue
        if old.group_value != r.group_value or (old.meta or {}).get("sha1") != r.meta.get("sha1"):
            stale.append(old.id)
        old.group_key, old.group_value, old.label, old.split = r.group_key, r.group_value, r.label, r.split
        old.flags, old.meta = list(r.flags), dict(r.meta)
        s.add(old)
    gone = [smp.id for smp in existing.values()]
    if stale or gone:
        s.exec(delete(Embedding).where(Embedding.sample_id.in_(stale + gone)))
    if gone:
        s.exec(delete(Sample).where(Sample.id.in_(gone)))


def generate_sample_job(kind: str, name: str | None, options: dict[str, Any]) -> dict[str, Any]:
    """Worker job: generate a sample dataset of ``kind`` under the data root and import it."""
    name = name or "-".join(["sample", kind, *(str(options[k]) for k in ("task",) if k in options)])
    folder = DATASET_KINDS[kind].generate(get_settings().resolved_data_root / name, **options)
    dataset, report = import_dataset(name=name, kind=kind, root=folder, replace=True)
    return {"dataset_id": dataset.id, "name": dataset.name, "samples": len(report.samples),
            "problems": [str(p) for p in report.problems]}
