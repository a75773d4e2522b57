"""Datasets: a named folder of one kind, with the summary of its last scan."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel import Session, select

from db.models import Dataset

__all__ = ["create_dataset", "get_dataset", "get_dataset_by_name", "list_datasets", "update_dataset"]


def create_dataset(*, session: Session, name: str, kind: str, root: str,
                   summary: Mapping[str, Any] | None = None, status: str = "ready") -> Dataset:
    dataset = Dataset(name=name, kind=kind, root=root, summary=dict(summary or {}), status=status)
    session.add(dataset)
    session.flush()
    return dataset


def get_dataset(*, session: Session, dataset_id: int) -> Dataset | None:
    return session.get(Dataset, dataset_id)


def get_dataset_by_name(*, session: Session, name: str) -> Dataset | None:
    return session.exec(select(Dataset).where(Dataset.name == name)).first()


def list_datasets(*, session: Session, kind: str | None = None) -> list[Dataset]:
    stmt = select(Dataset).order_by(Dataset.name)
    if kind:
        stmt = stmt.where(Dataset.kind == kind)
    return list(session.exec(stmt))


def update_dataset(*, session: Session, dataset_id: int, **fields: Any) -> Dataset:
    """Set columns of one dataset (a rescan's ``kind``, ``root`` and ``summary``) and return it."""
    dataset = session.get(Dataset, dataset_id)
    if dataset is None:
        raise LookupError(f"no dataset with id {dataset_id}")
    for name, value in fields.items():
        setattr(dataset, name, value)
    session.add(dataset)
    session.flush()
    return dataset
