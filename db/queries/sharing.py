"""Share links: read-only links to runs or a model version."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from db.models import ShareLink, utcnow

__all__ = ["create_share_link", "get_share_link", "list_share_links", "revoke_share_link"]


def create_share_link(*, session: Session, token: str, run_ids: Sequence[int], title: str = "",
                      expires_at: datetime | None = None, kind: str = "runs",
                      model_version_id: int | None = None) -> ShareLink:
    link = ShareLink(token=token, run_ids=list(run_ids), title=title, expires_at=expires_at, kind=kind,
                     model_version_id=model_version_id)
    session.add(link)
    session.flush()
    return link


def get_share_link(*, session: Session, token: str) -> ShareLink | None:
    return session.exec(select(ShareLink).where(ShareLink.token == token)).first()


def list_share_links(*, session: Session, include_revoked: bool = False) -> list[ShareLink]:
    stmt = select(ShareLink).order_by(col(ShareLink.id).desc())
    if not include_revoked:
        stmt = stmt.where(col(ShareLink.revoked_at).is_(None))
    return list(session.exec(stmt))


def revoke_share_link(*, session: Session, link_id: int) -> None:
    session.exec(update(ShareLink).where(ShareLink.id == link_id, col(ShareLink.revoked_at).is_(None))
                 .values(revoked_at=utcnow()))
