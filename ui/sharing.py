"""Share widgets: create a read-only link, list and revoke links (never shown on the Results page)."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timezone

import pandas as pd
import streamlit as st

from db import queries
from db.session import session_scope
from jobs import sharing

RESULTS_PATH = "Results"  # pages/5_Results.py is served at /Results


def link_path(token: str) -> str:
    return f"/{RESULTS_PATH}?token={token}"


def share_box(run_ids: Sequence[int], *, default_title: str, key: str, expiry_default: date | None = None,
              model_version_id: int | None = None, kind: str | None = None) -> None:
    """Title, optional expiry and a button that creates the link and shows its address; ``kind``
    "curve" shares the learning-curve study the runs make up."""
    with st.container(border=True):
        st.markdown("**Share a read-only link**")
        cols = st.columns([3, 1, 2])
        title = cols[0].text_input("Title", value=default_title, key=f"{key}-title")
        expires = cols[1].checkbox("Expires", value=expiry_default is not None, key=f"{key}-expires")
        until = cols[2].date_input("on", value=expiry_default or date.today(), key=f"{key}-until", disabled=not expires)
        if st.button("Create share link", icon=":material/share:", key=f"{key}-create"):
            expires_at = datetime.combine(until, time.max, tzinfo=timezone.utc) if expires else None
            link = sharing.create_link(list(run_ids), title=title, expires_at=expires_at,
                                       model_version_id=model_version_id, kind=kind)
            st.success("Link created: anyone with it sees these results read-only"
                       + (f" until {until:%Y-%m-%d}." if expires else "."))
            st.code(link_path(link.token), language=None)
            st.caption("Append it to this dashboard's address (e.g. http://host:8501).")


def links_manager(*, key: str = "links") -> None:
    """Every live link with its target and expiry, and a revoke button per link."""
    with session_scope() as s:
        links = queries.list_share_links(session=s)
    if not links:
        st.caption("No live share links.")
        return
    st.dataframe(pd.DataFrame([{"id": link.id, "title": link.title, "kind": link.kind, "runs": ", ".join(map(str, link.run_ids)),
                                "model": link.model_version_id, "created": link.created_at, "expires": link.expires_at,
                                "path": link_path(link.token)} for link in links]), hide_index=True, width="stretch")
    cols = st.columns([2, 1])
    target = cols[0].selectbox("Link", links, format_func=lambda link: f"#{link.id} {link.title or link.kind}", key=f"{key}-pick")
    if cols[1].button("Revoke", icon=":material/link_off:", key=f"{key}-revoke"):
        sharing.revoke_link(target.id)
        st.toast(f"Link #{target.id} revoked: it now shows only 'this link was revoked'.")
        st.rerun()
