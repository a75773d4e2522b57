"""The analyst's path in a real browser: what AppTest cannot see (exception boxes, charts that
never draw, buttons that do nothing, stale headers)."""
from __future__ import annotations

import re
import time

import pytest

pytestmark = pytest.mark.browser

LONG = 240_000  # ms: training three tiny models on two busy cores


def goto(steps, url: str, path: str, heading: str) -> None:
    steps.page.goto(f"{url}/{path}")
    steps.page.get_by_role("heading", name=heading).first.wait_for()
    wait_idle(steps.page)


def wait_idle(page, timeout_s: float = 60) -> None:
    """Wait until Streamlit finished running the script (no 'Running...' status widget)."""
    page.wait_for_timeout(300)
    deadline = time.monotonic() + timeout_s
    while page.locator('[data-testid="stStatusWidget"]').count() and time.monotonic() < deadline:
        page.wait_for_timeout(200)


def choose(page, label: str, option: str) -> None:
    """Pick ``option`` (a substring of its text) in the selectbox labelled ``label``."""
    box = page.locator('[data-testid="stSelectbox"]').filter(has=page.get_by_text(label, exact=True)).first
    box.click()
    page.get_by_role("option").filter(has_text=option).first.click()
    wait_idle(page)


def set_number(page, label: str, value: int | float) -> None:
    field = page.get_by_label(label, exact=True)
    field.fill(str(value))
    field.press("Enter")
    wait_idle(page)


def test_anomaly_path(dashboard, steps):
    page = steps.page
    goto(steps, dashboard, "", "Trainyard")
    steps.check("home")

    goto(steps, dashboard, "Data_Sufficiency", "Data sufficiency")
    choose(page, "Kind", "drawings")
    page.get_by_role("button", name="Generate sample data").click()
    page.get_by_text(re.compile(r"samples per age group|age group", re.I)).first.wait_for(timeout=LONG)
    wait_idle(page)
    page.locator(".js-plotly-plot, [data-testid='stVegaLiteChart'], [data-testid='stPlotlyChart']").first.wait_for()
    steps.check("sufficiency")

    goto(steps, dashboard, "Launch_Training", "Launch training")
    choose(page, "Family", "anomaly")
    set_number(page, "epochs", 8)
    page.get_by_role("button", name="Validate and launch").first.click()
    page.get_by_text(re.compile(r"Queued 3 run\(s\)")).wait_for(timeout=60_000)
    steps.check("launched")

    goto(steps, dashboard, "Progress", "Progress")
    deadline = time.monotonic() + LONG / 1000
    while True:  # the live fragment refreshes the badge; reload picks the newest run list
        page.reload()
        page.get_by_role("heading", name="Progress").first.wait_for()
        wait_idle(page)
        done = page.get_by_text("completed", exact=True).count()
        failed = page.get_by_text("failed", exact=True).count()
        assert not failed, steps.shot("run-failed")
        if done:
            choose(page, "Status", "completed") if False else None
            break
        assert time.monotonic() < deadline, steps.shot("not-completed")
        page.wait_for_timeout(3000)
    page.locator(".js-plotly-plot").first.wait_for()
    steps.check("progress")

    goto(steps, dashboard, "Analyze_Drawing", "Analyze a drawing")
    page.get_by_text("Pick from a dataset").click()
    wait_idle(page)
    page.get_by_role("button", name="Analyze").click()
    page.get_by_text(re.compile("reconstruction error")).first.wait_for(timeout=120_000)
    steps.check("analyze")
