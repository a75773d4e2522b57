"""The dashboard is closed by default: local bind, no error details, no file watcher, an upload
cap, and an optional password that every page enforces."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from jobs.launcher import streamlit_command
from settings import Settings, get_settings
from ui.page import password_ok

ROOT = Path(__file__).resolve().parents[2]
PAGES = ["Home.py", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "pages").glob("*.py"))]
PUBLIC = {"pages/5_Results.py"}  # the read-only share page: its token is the credential


def test_shipped_streamlit_config_is_closed_by_default():
    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert cfg["server"]["address"] == "127.0.0.1"
    assert cfg["server"]["fileWatcherType"] == "none"
    assert 0 < cfg["server"]["maxUploadSize"] <= 200
    assert cfg["client"]["showErrorDetails"] == "none"


def test_launcher_binds_the_configured_address():
    cmd = streamlit_command(Settings())
    assert cmd[cmd.index("--server.address") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--server.fileWatcherType") + 1] == "none"
    assert cmd[cmd.index("--client.showErrorDetails") + 1] == "none"
    opened = streamlit_command(Settings(TRAINYARD_BIND="0.0.0.0"))
    assert opened[opened.index("--server.address") + 1] == "0.0.0.0"


def _non_loopback_ip() -> str | None:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("10.255.255.255", 1))  # no packet is sent; picks the outward interface
        ip = s.getsockname()[0]
    except OSError:
        return None
    finally:
        s.close()
    return None if ip.startswith("127.") else ip


def test_served_dashboard_answers_on_loopback_only(stack):
    """Started the way ``make run`` starts it, the server is reachable on 127.0.0.1 and not on the
    machine's other address."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = Settings(TRAINYARD_PORT=port)
    proc = subprocess.Popen(streamlit_command(settings), cwd=ROOT, env=dict(os.environ),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                    assert r.read() == b"ok"
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError("the dashboard did not start") from None
                time.sleep(0.3)
        ip = _non_loopback_ip()
        if ip:
            with pytest.raises(OSError):
                socket.create_connection((ip, port), timeout=2).close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_password_comparison():
    assert password_ok("s3cret-é", "s3cret-é")
    assert not password_ok("s3cret", "s3cret-é")
    assert not password_ok("", "x")


@pytest.fixture
def password(stack):
    os.environ["TRAINYARD_PASSWORD"] = "correct horse"
    get_settings.cache_clear()
    yield "correct horse"
    del os.environ["TRAINYARD_PASSWORD"]
    get_settings.cache_clear()


def _open(page: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=60)
    at.run()
    if page != "Home.py":
        at.switch_page(page)
        at.run()
    return at


@pytest.mark.parametrize("page", [p for p in PAGES if p not in PUBLIC])
def test_every_page_asks_for_the_password(password, page):
    at = _open(page)
    assert not at.exception, [e.message for e in at.exception]
    assert [t.label for t in at.text_input] == ["Password"], f"{page} shows more than the sign-in form"
    assert [b.label for b in at.button] == ["Sign in"], f"{page} offers actions before sign-in"
    assert not at.dataframe and not at.selectbox and not at.metric, f"{page} leaks content before sign-in"


def test_wrong_password_is_refused_and_right_one_opens(password):
    at = _open("Home.py")
    at.text_input[0].input("wrong")
    at.button[0].click()
    at.run()
    assert any("Wrong password" in e.value for e in at.error)
    assert [t.label for t in at.text_input] == ["Password"]
    at.text_input[0].input(password)
    at.button[0].click()
    at.run()
    assert not at.exception
    assert not at.text_input or at.text_input[0].label != "Password"
    assert any(t.value == "Trainyard" for t in at.title)
