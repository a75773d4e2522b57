"""Pieces of the list searches (runs, sweeps, model versions): one word of a search box as SQL."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import func
from sqlmodel import Session, col, select

__all__: list[str] = []  # pieces the query modules share, not queries of their own


def like_escaped(value: str) -> str:
    """``value`` for a LIKE pattern with ``escape="\\\\"``: its own %, _ and \\ match themselves."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def contains(term: str) -> str:
    """The LIKE pattern of text holding ``term`` (compared lower-cased)."""
    return f"%{like_escaped(term.lower())}%"


def day_or_month(term: str) -> tuple[datetime, datetime] | None:
    """``2026-12-03`` → that day, ``2026-12`` → that month (UTC, end excluded); None otherwise."""
    for fmt in ("%Y-%m-%d", "%Y-%m"):
        try:
            start = datetime.strptime(term, fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
        if fmt == "%Y-%m-%d":
            return start, start + timedelta(days=1)
        return start, start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
    return None


def id_or_date(term: str, id_col, created_col) -> list:
    """Conditions every list search has: ``12`` / ``#12`` is the id, ``2026-12-03`` / ``2026-12``
    the creation day or month."""
    conds = []
    bare = term.lstrip("#")
    if bare.isdigit():
        conds.append(id_col == int(bare))
    span = day_or_month(term)
    if span:
        conds.append((col(created_col) >= span[0]) & (col(created_col) < span[1]))
    return conds


def page(session: Session, model, conds: list, order: list, *, offset: int, limit: int) -> tuple[list, int]:
    """Rows of ``model`` matching every condition, ordered, one page of them, and how many match:
    the database filters, counts and pages."""
    total = session.exec(select(func.count()).select_from(model).where(*conds)).one()
    stmt = select(model).where(*conds).order_by(*order).offset(max(0, offset)).limit(limit)
    return list(session.exec(stmt)), int(total)
