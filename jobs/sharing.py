"""Read-only share links: an unguessable token opens ``pages/5_Results.py`` on some runs or a model."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timezone

from db import queries
from db.models import ShareLink
from db.session import session_scope

__all__ = ["create_link", "revoke_link", "open_link", "LinkState", "TOKEN_BYTES"]

TOKEN_BYTES = 32  # 256 bits from the OS generator: not guessable, not enumerable


@dataclass(frozen=True)
class LinkState:
    """What a token opens: the link, or why it opens nothing (``message`` for the page)."""
    link: ShareLink | None
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.link is not None


def create_link(run_ids: list[int], *, title: str = "", expires_at: datetime | None = None,
                kind: str | None = None, model_version_id: int | None = None) -> ShareLink:
    """Store a link to ``run_ids`` (a run, a comparison) or to a model version; returns it with its token."""
    if not run_ids:
        raise ValueError("a share link needs at least one run")
    if expires_at is not None and expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=timezone.utc)
    kind = kind or ("model" if model_version_id else "run" if len(run_ids) == 1 else "comparison")
    with session_scope() as s:
        for run_id in run_ids:
            if queries.get_run(session=s, run_id=run_id) is None:
                raise LookupError(f"no run with id {run_id}")
        return queries.create_share_link(session=s, token=secrets.token_urlsafe(TOKEN_BYTES),
                                         run_ids=sorted(set(run_ids)), title=title, expires_at=expires_at,
                                         kind=kind, model_version_id=model_version_id)


def revoke_link(link_id: int) -> None:
    """The link opens nothing from now on (the row stays, so the page can say it was revoked)."""
    with session_scope() as s:
        queries.revoke_share_link(session=s, link_id=link_id)


def open_link(token: str | None) -> LinkState:
    """Resolve a token from a URL; never raises for a bad one."""
    if not token or len(token) > 200:
        return LinkState(None, "This link is not valid. Ask whoever shared it for a new one.")
    with session_scope() as s:
        link = queries.get_share_link(session=s, token=token)
    if link is None:
        return LinkState(None, "This link is not valid. Ask whoever shared it for a new one.")
    if link.revoked_at is not None:
        return LinkState(None, "This link was revoked.")
    expires = link.expires_at
    if expires is not None:
        expires = expires if expires.tzinfo else expires.replace(tzinfo=timezone.utc)
        if expires <= datetime.now(timezone.utc):
            return LinkState(None, f"This link expired on {expires:%Y-%m-%d %H:%M} UTC.")
    return LinkState(link)
