"""The base-model catalog: files and folders of the operator's models folder with the sha256
recorded when they were added or pulled (the record a launch and a worker check them against)."""
from __future__ import annotations

from sqlmodel import Session, col, select

from db.models import CatalogEntry, utcnow

__all__ = ["upsert_catalog_entry", "catalog_entry", "list_catalog", "delete_catalog_entry"]


def upsert_catalog_entry(*, session: Session, name: str, family: str, task: str | None, format: str,
                         size: int, sha256: str, source: str) -> CatalogEntry:
    """Record ``name`` (relative to the models folder); adding it again replaces its record."""
    entry = catalog_entry(session=session, name=name) or CatalogEntry(name=name, family=family, format=format,
                                                                      sha256=sha256)
    entry.family, entry.task, entry.format, entry.size = family, task, format, int(size)
    entry.sha256, entry.source, entry.added_at = sha256, source, utcnow()
    session.add(entry)
    session.flush()
    return entry


def catalog_entry(*, session: Session, name: str) -> CatalogEntry | None:
    return session.exec(select(CatalogEntry).where(CatalogEntry.name == name)).first()


def list_catalog(*, session: Session, family: str | None = None) -> list[CatalogEntry]:
    stmt = select(CatalogEntry)
    if family is not None:
        stmt = stmt.where(CatalogEntry.family == family)
    return list(session.exec(stmt.order_by(CatalogEntry.family, col(CatalogEntry.name))))


def delete_catalog_entry(*, session: Session, name: str) -> bool:
    entry = catalog_entry(session=session, name=name)
    if entry is None:
        return False
    session.delete(entry)
    session.flush()
    return True
