"""Import a dataset folder: scan it with its kind's scanner, store Dataset and Sample rows."""
from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError

from db import queries
from db.models import Dataset
from db.session import session_scope
from engine.datasets import DATASET_KINDS, Problem, ScanReport, confine, folder_name
from engine.digests import folder_sha256
from engine.families import FAMILIES  # noqa: F401  (registers the families' dataset kinds)
from settings import get_settings


class DatasetExists(ValueError):
    """Importing under a name that is taken, without ``replace``; the message is one line."""

    def __init__(self, name: str):
        self.name = name
        super().__init__(f"dataset {name!r} exists; choose another name or use --replace")


def import_dataset(*, name: str, kind: str, root: Path, replace: bool = False,
                   **options: Any) -> tuple[Dataset, ScanReport]:
    """Scan ``root`` (which must lie under the data root) and store what is valid.

    Problems are kept in the dataset summary, each naming its file and reason. With
    ``replace`` an existing dataset of that name is rescanned in place (its id stays); without
    it a taken name raises ``DatasetExists`` before anything is scanned.
    """
    scanner = DATASET_KINDS[kind]
    if not str(name or "").strip():
        raise ValueError("a dataset needs a name")
    root = confine(root, get_settings().resolved_data_root)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset folder {root} does not exist")
    if not replace:
        with session_scope() as s:
            if queries.get_dataset_by_name(session=s, name=name) is not None:
                raise DatasetExists(name)
    report = _storable(scanner.scan(root, **{**options, "cache": partial(_stored_meta, root, kind)}))
    summary = {**_plain(report.summary), "samples": len(report.samples),
               "problems": [str(p) for p in report.problems]}
    try:
        dataset = _store(name, kind, root, replace, report, summary)
    except IntegrityError:  # another import took the name between the check and the insert
        raise DatasetExists(name) from None
    return dataset, report


def _stored_meta(root: Path, kind: str) -> dict[str, dict[str, Any]]:
    """Path → meta of the samples imported from ``root`` as ``kind`` before: a scanner's cache
    (the logos kind reuses the analyses of unchanged files)."""
    with session_scope() as s:
        return queries.sample_meta_by_root(session=s, root=str(Path(root).resolve()), kind=kind)


def _store(name: str, kind: str, root: Path, replace: bool, report: ScanReport, summary: dict[str, Any]) -> Dataset:
    # what runs' manifests name as the data they saw; files the scan hashed are not read again
    content_hash = folder_sha256(root, known={r.path: f"sha1:{r.meta['sha1']}" for r in report.samples
                                              if isinstance(r.meta.get("sha1"), str)})
    with session_scope() as s:
        dataset = queries.get_dataset_by_name(session=s, name=name)
        if dataset is not None and not replace:
            raise DatasetExists(name)
        if dataset is None:
            dataset = queries.create_dataset(session=s, name=name, kind=kind, root=str(root), summary=summary)
            dataset.content_hash = content_hash
            queries.add_samples(session=s, rows=[_sample_values(dataset.id, r) for r in report.samples])
        else:  # a rescan in place: unchanged samples keep their ids and embeddings
            dataset = queries.update_dataset(session=s, dataset_id=dataset.id, kind=kind, root=str(root),
                                             summary=summary, content_hash=content_hash)
            queries.replace_dataset_samples(session=s, dataset_id=dataset.id,
                                            rows=[_sample_values(dataset.id, r) for r in report.samples])
    return dataset


def _plain(value: Any) -> Any:
    """``value`` with every string storable (a lone surrogate, e.g. from a YAML escape, becomes '?')."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _storable(report: ScanReport) -> ScanReport:
    """The last guard before the database: a sample whose path cannot be stored as UTF-8 is a
    problem instead (scanners already refuse such names; this keeps a new kind from crashing)."""
    kept = []
    for r in report.samples:
        try:
            r.path.encode("utf-8")
        except UnicodeEncodeError:
            report.problems.append(Problem(r.path, "file name is not valid UTF-8; rename it (not imported)"))
            continue
        r.label, r.group_key, r.split = _plain(r.label), _plain(r.group_key), _plain(r.split)
        r.flags, r.meta = _plain(r.flags), _plain(r.meta)
        kept.append(r)
    report.samples = kept
    return report


def _sample_values(dataset_id: int, r) -> dict[str, Any]:
    return {"dataset_id": dataset_id, "path": r.path, "group_key": r.group_key, "group_value": r.group_value,
            "label": r.label, "split": r.split, "flags": list(r.flags), "meta": dict(r.meta)}


def generate_sample_job(kind: str, name: str | None, options: dict[str, Any]) -> dict[str, Any]:
    """Worker job: generate a sample dataset of ``kind`` under the data root and import it.

    The name becomes the folder, so it is checked (a plain folder name, staying under the data
    root, not another dataset's name) before anything is written or deleted."""
    kind_ = DATASET_KINDS[kind]
    name = folder_name(name or "-".join(["sample", kind, *(str(options[k]) for k in ("task",) if k in options)]))
    data_root = get_settings().resolved_data_root
    dest = confine(data_root / name, data_root)
    with session_scope() as s:
        existing = queries.get_dataset_by_name(session=s, name=name)
        if existing is not None and Path(existing.root) != dest:
            raise ValueError(f"dataset {name!r} exists and is not the sample data in {dest}; choose another name")
    folder = kind_.generate(dest, **options)
    dataset, report = import_dataset(name=name, kind=kind, root=folder, replace=True)
    return {"dataset_id": dataset.id, "name": dataset.name, "samples": len(report.samples),
            "problems": [str(p) for p in report.problems]}
