"""Every page starts here: page config, then the optional password gate.

``TRAINYARD_PASSWORD`` unset: the dashboard is open (it binds 127.0.0.1 by default, so only
this machine reaches it). Set: each browser session must enter it once; the comparison is
constant-time (``hmac.compare_digest``) and the password is never stored in the session, only
the fact that it was given.
"""
from __future__ import annotations

import hmac
from pathlib import Path

import streamlit as st

from settings import get_settings

__all__ = ["page", "password_ok", "require_password"]

_AUTH_KEY = "_trainyard_authenticated"


def password_ok(given: str, expected: str) -> bool:
    """Constant-time comparison of two passwords (as UTF-8 bytes)."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def require_password() -> None:
    """Stop the page behind a password form unless this session gave the right password."""
    expected = get_settings().password
    if not expected or st.session_state.get(_AUTH_KEY):
        return
    st.title("Trainyard")
    with st.form("trainyard-login"):
        given = st.text_input("Password", type="password",
                              help="This dashboard is shared; its operator set TRAINYARD_PASSWORD.")
        submitted = st.form_submit_button("Sign in")
    if submitted:
        if password_ok(given, expected):
            st.session_state[_AUTH_KEY] = True
            st.rerun()
        st.error("Wrong password.")
    st.stop()


FAVICON = str(Path(__file__).with_name("assets") / "favicon.png")


def page(title: str, *, public: bool = False) -> None:
    """Configure the page and, unless it is ``public`` (a read-only share link), require the password.

    A public page shows no navigation: its visitor holds a share token, not the dashboard.

    The browser tab icon is a local file: a ``:material/...:`` page icon is fetched from Google's
    font servers, which an offline installation cannot reach."""
    st.set_page_config(page_title=f"{title} · Trainyard" if title != "Trainyard" else title,
                       page_icon=FAVICON, layout="wide", initial_sidebar_state="collapsed" if public else "auto")
    if public:
        st.markdown("<style>[data-testid='stSidebar'], [data-testid='stSidebarCollapsedControl'], "
                    "[data-testid='stExpandSidebarButton'] "
                    "{display: none;}</style>", unsafe_allow_html=True)
    else:
        require_password()
