"""A tiny learning-curve study from the Data Sufficiency page in a real browser: generate drawings,
queue the study, watch its runs finish and the curve and its sentence appear on the study page."""
from __future__ import annotations

import re

import pytest

from tests.browser.test_analyst_path import LONG, choose, wait_idle

pytestmark = pytest.mark.browser

TINY = "age_group=3-12\nepochs=8\nmin_samples=5\nhidden_dims=[32, 16]\nlatent_dim=4"


def test_a_tiny_study_from_the_sufficiency_page_shows_its_curve(dashboard, steps):
    page = steps.page
    page.goto(f"{dashboard}/Data_Sufficiency")  # a cold dashboard on busy cores: the first page may be slow
    page.get_by_role("heading", name="Data sufficiency").first.wait_for(timeout=120_000)
    wait_idle(page)
    if page.get_by_text("No dataset yet.").count() == 0:  # other browser tests made datasets: the box is folded
        page.get_by_text("Add a dataset").first.click()
        wait_idle(page)
    choose(page, "Kind", "drawings")
    page.get_by_role("button", name="Generate sample data").click()
    page.get_by_text("Would more data help?").first.wait_for(timeout=LONG)
    wait_idle(page)
    page.get_by_label("Fractions", exact=True).fill("0.25,0.5,1")
    page.get_by_label("Config overrides, one key=value a line", exact=True).fill(TINY)
    page.get_by_role("button", name="Queue the study").click()
    page.get_by_text(re.compile(r"Queued learning curve #\d+: 6 run\(s\)")).wait_for(timeout=60_000)
    steps.check("study-queued")

    page.get_by_text(re.compile(r"Open learning curve #\d+")).click()
    page.get_by_role("heading", name="Learning curves").first.wait_for()
    page.get_by_text(re.compile(r"doubling the training data is expected to improve val/loss by", re.I)).first.wait_for(
        timeout=LONG)
    page.locator(".js-plotly-plot").first.wait_for()
    # the export is offered once every run has finished (the curve may draw from the first four)
    page.get_by_role("button", name=re.compile("HTML report")).wait_for(timeout=LONG)
    page.get_by_text(re.compile(r"6/6 runs finished")).first.wait_for()
    wait_idle(page)
    steps.check("study-curve")
