"""Samples: the files of a dataset, with their group, label, split and cached analyses."""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import delete
from sqlmodel import Session, col, select

from db.models import Dataset, Sample
from db.queries.embeddings import delete_embeddings

__all__ = ["add_samples", "dataset_samples", "replace_dataset_samples", "delete_samples", "samples_in_age_range",
           "sample_meta_by_root"]


def add_samples(*, session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert many samples at once as plain Core rows (``dataset_id, path, group_key, group_value,
    label, split, flags, meta``): an import of 50k drawings builds no ORM objects."""
    if rows:
        session.connection().execute(Sample.__table__.insert(), [dict(r) for r in rows])


def dataset_samples(*, session: Session, dataset_id: int) -> list[Sample]:
    return list(session.exec(select(Sample).where(Sample.dataset_id == dataset_id).order_by(Sample.id)))


_RESCANNED = ("group_key", "group_value", "label", "split", "flags", "meta")  # what a rescan rewrites


def replace_dataset_samples(*, session: Session, dataset_id: int, rows: Sequence[Mapping[str, Any]]) -> None:
    """Make ``rows`` (plain rows as for ``add_samples``) the dataset's samples, keyed by path: a
    rescan in place. Unchanged paths keep their ids (and so their embeddings); a sample whose
    file content (``meta['sha1']`` where the kind records it) or group value changed loses its
    embeddings; samples no longer present are deleted with theirs."""
    existing = {smp.path: smp for smp in dataset_samples(session=session, dataset_id=dataset_id)}
    new: list[dict[str, Any]] = []
    stale: list[int] = []
    for row in rows:
        old = existing.pop(row["path"], None)
        if old is None:
            new.append({**row, "dataset_id": dataset_id})
            continue
        if old.group_value != row["group_value"] or (old.meta or {}).get("sha1") != (row["meta"] or {}).get("sha1"):
            stale.append(old.id)
        for name in _RESCANNED:
            setattr(old, name, row[name])
        session.add(old)
    add_samples(session=session, rows=new)
    gone = [smp.id for smp in existing.values()]
    delete_embeddings(session=session, sample_ids=stale + gone)
    delete_samples(session=session, sample_ids=gone)


def delete_samples(*, session: Session, sample_ids: Iterable[int]) -> None:
    """Remove samples (their embeddings first: ``delete_embeddings``)."""
    ids = list(sample_ids)
    if ids:
        session.exec(delete(Sample).where(col(Sample.id).in_(ids)))


def samples_in_age_range(*, session: Session, dataset_id: int, lo: float, hi: float,
                         include_hi: bool = False) -> list[Sample]:
    """Samples whose age (``group_value``) lies in ``[lo, hi)`` (``[lo, hi]`` with ``include_hi``)."""
    upper = col(Sample.group_value) <= hi if include_hi else col(Sample.group_value) < hi
    stmt = (select(Sample).where(Sample.dataset_id == dataset_id, Sample.group_key == "age",
                                 col(Sample.group_value) >= lo, upper)
            .order_by(Sample.id))
    return list(session.exec(stmt))


def sample_meta_by_root(*, session: Session, root: str, kind: str) -> dict[str, dict[str, Any]]:
    """Path → stored ``meta`` of every sample already imported from folder ``root`` as ``kind``
    (a rescan reuses analyses whose file content is unchanged)."""
    stmt = (select(Sample.path, Sample.meta).join(Dataset, Dataset.id == Sample.dataset_id)
            .where(Dataset.root == root, Dataset.kind == kind))
    return {path: dict(meta or {}) for path, meta in session.exec(stmt)}
