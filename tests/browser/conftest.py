"""A real browser against the dashboard started exactly as ``make run`` starts it.

``python -m jobs.launcher`` on the embedded default (SQLite file + embedded Redis + local
workers) in a fresh home, on a free port; Playwright drives Debian's Chromium (installed by
``make browser``; Playwright never downloads a browser). Every step saves a screenshot of the
first screen under ``$BROWSER_ARTIFACTS`` (default ``var/browser-artifacts``); a failing test
leaves a full-page screenshot of the step it failed in.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("TRAINYARD_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("BROWSER_ARTIFACTS", ROOT / "var" / "browser-artifacts"))
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
# Chromium's own chatter on a machine without network or GPU, not the dashboard's errors
BENIGN_CONSOLE = re.compile(r"favicon|ERR_INTERNET_DISCONNECTED|net::ERR_NAME_NOT_RESOLVED|WebGL|GPU stall")


def pytest_collection_modifyitems(config, items):
    if Path(CHROMIUM).exists():
        return
    skip = pytest.mark.skip(reason=f"Chromium is not installed at {CHROMIUM} and `make browser` could not "
                                   "install it (apt-get install chromium); browser tests cannot run here")
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(skip)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


HOMES: dict[str, Path] = {}


@pytest.fixture(scope="session")
def dashboard_home(dashboard) -> Path:
    """The dashboard's ``TRAINYARD_HOME`` (its generated datasets live under ``data/``)."""
    return HOMES[dashboard]


def start_dashboard(root: Path, home: Path):
    """Start ``python -m jobs.launcher`` from ``root`` in ``home``; return (process, url, log file)."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "TRAINYARD_EXTRA_FAMILIES", "TRAINYARD_PASSWORD")}
    env.update({"TRAINYARD_HOME": str(home), "TRAINYARD_PORT": str(port), "TRAINYARD_WORKERS": "2",
                "YOLO_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    log = open(home / "launcher.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "jobs.launcher"], cwd=root, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.read() == b"ok":
                    return proc, url, log
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            log.flush()
            raise RuntimeError(f"the dashboard did not start:\n{(home / 'launcher.log').read_text()[-3000:]}")
        time.sleep(0.3)


def stop_dashboard(proc, log) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    log.close()


@pytest.fixture(scope="session")
def dashboard(tmp_path_factory):
    """The base URL of a dashboard started by ``python -m jobs.launcher`` in a fresh home."""
    home = tmp_path_factory.mktemp("browser-home")
    proc, url, log = start_dashboard(ROOT, home)
    HOMES[url] = home
    yield url
    stop_dashboard(proc, log)
    if ARTIFACTS.exists():
        shutil.copy(home / "launcher.log", ARTIFACTS / "launcher.log")


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


class Steps:
    """Takes a screenshot per step and fails on a Streamlit exception box or a console error."""

    def __init__(self, page, prefix: str) -> None:
        self.page, self.prefix, self.n = page, prefix, 0
        self.console_errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.console_errors.append(f"page error: {exc}"))
        ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def _console(self, msg) -> None:
        where = (msg.location or {}).get("url", "")
        # on a deep link Streamlit first probes <page>/_stcore/... and then the root: expected 404s
        if re.search(r"/[^/]+/_stcore/(host-config|health)$", where):
            return
        if msg.type == "error" and not BENIGN_CONSOLE.search(msg.text):
            self.console_errors.append(f"{msg.text} ({where})")

    def shot(self, name: str, *, full_page: bool = False) -> Path:
        """The first screen of the page (what the README's pictures crop to); the whole page for
        a step that failed (a full-page capture of a tall page costs a second or more here)."""
        self.n += 1
        path = ARTIFACTS / f"{self.prefix}-{self.n:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def check(self, name: str) -> Path:
        """Screenshot this step, then fail if the page shows an exception or logged an error."""
        path = self.shot(name)
        boxes = self.page.locator('[data-testid="stException"]')
        if boxes.count():
            path = self.shot(f"{name}-full", full_page=True)
            raise AssertionError(f"step {name}: Streamlit exception on the page: {boxes.first.inner_text()[:800]} "
                                 f"(screenshot {path})")
        if self.console_errors:
            raise AssertionError(f"step {name}: console errors {self.console_errors[:5]} (screenshot {path})")
        return path


@pytest.fixture
def steps(browser, request):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    s = Steps(page, request.node.name.replace("test_", ""))
    yield s
    if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
        s.shot("FAILED", full_page=True)
    context.close()


# the README's pictures: ``make screenshots`` runs these tests with TRAINYARD_README_SHOTS=1, and
# the listed steps are copied, cropped to the first screen and halved, into docs/screenshots
README_SHOTS = {
    "anomaly_path-02-sufficiency.png": "data-sufficiency.png",
    "anomaly_path-04-progress.png": "progress.png",
    "anomaly_path-05-comparison.png": "comparison.png",
    "shared-01-results.png": "shared-results.png",
    "family_short_path[reid]-04-tried.png": "try-reid.png",
    "family_short_path[transition]-05-files.png": "run-files.png",
}


def pytest_sessionfinish(session, exitstatus):
    if not os.environ.get("TRAINYARD_README_SHOTS") or exitstatus != 0:
        return
    from PIL import Image

    dest = ROOT / "docs" / "screenshots"
    dest.mkdir(parents=True, exist_ok=True)
    for source, name in README_SHOTS.items():
        if (ARTIFACTS / source).exists():
            with Image.open(ARTIFACTS / source) as im:
                first_screen = im.crop((0, 0, im.width, min(im.height, 1000)))
                first_screen.resize((first_screen.width // 2, first_screen.height // 2), Image.LANCZOS).save(
                    dest / name, optimize=True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    rep = yield
    if rep.when == "call":
        item.rep_call = rep
    return rep
