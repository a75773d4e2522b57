"""The analyst's path in a real browser: what AppTest cannot see (exception boxes, charts that
never draw, buttons that do nothing, stale headers)."""
from __future__ import annotations

import re
import time

import pytest

from tests.browser.conftest import Steps

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
    page.keyboard.type(option)  # the list is searchable and long lists render only what is visible
    page.get_by_role("option").filter(has_text=option).first.click()
    wait_idle(page)


def set_number(page, label: str, value: int | float) -> None:
    field = page.get_by_label(label, exact=True)
    field.fill(str(value))
    field.press("Enter")
    wait_idle(page)


def completed_run_ids(page, dashboard, want: int, timeout_s: float, family: str = "") -> list[int]:
    """Reload Progress until ``want`` runs (of ``family``, when given) show ``completed`` in the
    run picker; their ids. Any failed one fails the step."""
    deadline = time.monotonic() + timeout_s
    while True:
        page.goto(f"{dashboard}/Progress")
        page.get_by_role("heading", name="Progress").first.wait_for()
        wait_idle(page)
        box = page.locator('[data-testid="stSelectbox"]').filter(has=page.get_by_text("Run", exact=True)).first
        box.click()
        options = [o for o in page.get_by_role("option").all_inner_texts() if f"· {family} ·" in o or not family]
        page.keyboard.press("Escape")
        assert not any("failed" in o for o in options), options
        done = [int(re.match(r"#(\d+)", o).group(1)) for o in options if "completed" in o]
        if len(done) >= want:
            return sorted(done)
        assert time.monotonic() < deadline, f"only {len(done)} of {want} {family} runs completed: {options}"
        page.wait_for_timeout(1000)  # a reload of Progress costs ~1 s itself


def test_anomaly_path(dashboard, steps, browser):
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

    # the analyst decides which model serves: activation by hand for this family
    goto(steps, dashboard, "Models", "Models")
    page.get_by_text("Activation policy").click()
    wait_idle(page)
    choose(page, "Family", "anomaly")
    choose(page, "Policy", "manual")
    page.get_by_role("button", name="Save policy").click()
    wait_idle(page)

    goto(steps, dashboard, "Launch_Training", "Launch training")
    choose(page, "Family", "anomaly")
    set_number(page, "epochs", 8)
    page.get_by_role("button", name="Validate and launch").first.click()
    page.get_by_text(re.compile(r"Queued 3 run\(s\)")).wait_for(timeout=60_000)
    steps.check("launched")

    run_ids = completed_run_ids(page, dashboard, 3, LONG / 1000)
    page.locator(".js-plotly-plot").first.wait_for()
    steps.check("progress")

    page.goto(f"{dashboard}/Model_Comparison?runs={','.join(map(str, run_ids))}")
    page.get_by_role("heading", name="Model comparison").first.wait_for()
    wait_idle(page)
    page.locator(".js-plotly-plot").first.wait_for()
    steps.check("comparison")

    goto(steps, dashboard, "Models", "Models")
    choose(page, "Task and scope", "3-6")
    choose(page, "Action", "activate")
    page.get_by_text(re.compile(r"^Yes, activate #\d+$")).click()
    page.get_by_role("button", name="Apply").click()
    wait_idle(page)
    page.locator("[data-testid='stMarkdownContainer']").filter(
        has_text=re.compile(r"Version #\d+ · active · run #")).first.wait_for()
    steps.check("activated")

    # evaluate the active model from the Models page (its dataset, the test split) and see its metrics
    page.get_by_role("button", name="Evaluate", exact=True).click()
    page.locator('[data-testid="stMetric"]').filter(has_text="test reconstruction loss").first.wait_for(timeout=LONG)
    wait_idle(page)
    steps.check("evaluated")

    goto(steps, dashboard, "Analyze_Drawing", "Analyze a drawing")
    page.get_by_text("Pick from a dataset").click()
    wait_idle(page)
    choose(page, "Drawing", "· age 4 ·")  # the 3-6 group's model is the active one
    page.get_by_role("button", name="Analyze").click()
    page.get_by_text(re.compile("reconstruction error")).first.wait_for(timeout=120_000)
    steps.check("analyze")

    page.goto(f"{dashboard}/Model_Comparison?runs={','.join(map(str, run_ids))}")
    page.get_by_role("heading", name="Model comparison").first.wait_for()
    wait_idle(page)
    page.get_by_role("button", name="Create share link").first.click()
    code = page.locator("[data-testid='stCode'], pre code").filter(has_text="token=").first
    code.wait_for()
    path = code.inner_text().strip()
    steps.check("share-created")

    viewer = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        guest = viewer.new_page()
        shared = Steps(guest, "shared")
        guest.goto(f"{dashboard}{path}")
        guest.get_by_role("heading").first.wait_for()
        wait_idle(guest)
        guest.locator(".js-plotly-plot").first.wait_for()
        shared.check("results")
        labels = [b.strip() for b in guest.get_by_role("button").all_inner_texts()]
        changing = [b for b in labels if re.search(r"Cancel|Resume|Retry|Activate|Apply|Launch|Create|Revoke|Save", b)]
        assert not changing, f"the shared page offers actions: {changing}"
        assert not guest.locator("[data-testid='stSidebarNav']").is_visible()
    finally:
        viewer.close()


def launch_yaml(page, dashboard, steps, family: str, yaml_text: str) -> None:
    goto(steps, dashboard, "Launch_Training", "Launch training")
    choose(page, "Family", family)
    page.get_by_role("tab", name="YAML editor").click()
    editor = page.get_by_label("config.yaml")
    editor.fill(yaml_text)
    editor.press("Control+Enter")  # commit the text area before the click
    wait_idle(page)
    page.locator(".st-key-launch-yaml button").click()
    page.get_by_text(re.compile(r"Queued 1 run\(s\)")).wait_for(timeout=60_000)


def _upload(page, label: str, path) -> None:
    page.locator("[data-testid='stFileUploader']").filter(has_text=label).first.locator(
        "input[type=file]").set_input_files(str(path))
    wait_idle(page)


def try_yolo(page, home) -> None:
    image = next(p for p in sorted((home / "data").rglob("*.png")) if "images" in p.parts)
    _upload(page, "Image", image)
    page.get_by_role("button", name="Run").click()
    page.get_by_text(re.compile(r"\d+ object\(s\)")).wait_for(timeout=120_000)


def try_reid(page, home) -> None:
    page.get_by_role("button", name="Rank the gallery").click()
    page.get_by_text(re.compile("gallery images")).first.wait_for(timeout=120_000)


def try_ppo(page, home) -> None:
    page.get_by_text("Pick from a dataset").click()
    wait_idle(page)
    page.get_by_role("button", name="Vectorise").click()
    page.get_by_text("agent SSIM").first.wait_for(timeout=120_000)


def try_transition(page, home) -> None:
    record = next((home / "data").rglob("transitions_dataset.json"))
    import json

    first = json.loads(record.read_text())
    first = first[0] if isinstance(first, list) else first.get("transitions", first.get("records", [first]))[0]
    _upload(page, "Frame t1", record.parent / first["ft1_image_path"])
    _upload(page, "Frame t2", record.parent / first["ft2_image_path"])
    page.get_by_role("button", name="Predict").click()
    page.locator(".js-plotly-plot").first.wait_for(timeout=120_000)


FAMILY_PATHS = {
    "yolo": ("yolo", "detect", "task: detect\nepochs: 1\nimgsz: 64\nbatch: 8\nworkers: 0\nmin_per_class: 0\n", try_yolo),
    "reid": ("market1501", None, "model: osnet_x0_25\nheight: 64\nwidth: 32\nepochs: 1\neval_freq: 1\n"
                                 "batch_size: 16\nworkers: 0\nmin_identities: 4\n", try_reid),
    "ppo": ("logos", None, "total_timesteps: 256\nn_steps: 64\nbatch_size: 64\neval_freq: 128\n"
                           "checkpoint_freq: 128\neval_images_per_category: 1\n", try_ppo),
    "transition": ("transitions", None, "d_model: 32\nnum_heads: 4\nnum_layers: 1\ncnn_channels: 16\n"
                                        "batch_size: 16\nmax_epochs: 2\nearly_stop_patience: 0\n", try_transition),
}


@pytest.mark.parametrize("family", list(FAMILY_PATHS))
def test_family_short_path(dashboard, dashboard_home, steps, family):
    """Generate data, launch a tiny run, watch it complete, try the model."""
    kind, task, yaml_text, try_model = FAMILY_PATHS[family]
    page = steps.page
    goto(steps, dashboard, "Data_Sufficiency", "Data sufficiency")
    page.get_by_text("Add a dataset").first.click() if page.get_by_text("No dataset yet.").count() == 0 else None
    wait_idle(page)
    choose(page, "Kind", kind)
    if task:
        choose(page, "task", task)
    page.get_by_role("button", name="Generate sample data").click()
    # the confirmation survives the page's rerun and names the new dataset, now selected
    page.get_by_text(re.compile(rf"Generated dataset 'sample-{kind}[^']*': \d+ samples")).wait_for(timeout=LONG)
    wait_idle(page)
    wait_idle(page)
    steps.check("data")
    launch_yaml(page, dashboard, steps, family, yaml_text)
    steps.check("launched")
    run_id = completed_run_ids(page, dashboard, 1, LONG / 1000, family=family)[-1]
    steps.check("completed")
    goto(steps, dashboard, "Try_Model", "Try an active model")
    choose(page, "Family", f"{family} —")
    try_model(page, dashboard_home)
    wait_idle(page, timeout_s=120)
    page.wait_for_load_state("networkidle")
    steps.check("tried")
    if family == "transition":  # a run with plots of its own: its gallery, then what produced it
        run_files_and_reproduce(page, dashboard, steps, run_id, plot="plots/training_summary.png")


def run_files_and_reproduce(page, dashboard, steps, run_id: int, *, plot: str) -> None:
    """The run's *Files* tab shows its plots as images, its *Reproduce* tab the commit and packages."""
    goto(steps, dashboard, f"Progress?run={run_id}", "Progress")
    page.get_by_role("tab", name="Files").click()
    gallery = page.locator('[data-testid="stImage"]').filter(has_text=plot).first
    gallery.wait_for(timeout=60_000)
    assert gallery.locator("img").evaluate("img => img.complete && img.naturalWidth > 0")
    page.get_by_text("Gallery").first.scroll_into_view_if_needed()
    steps.check("files")
    page.get_by_role("tab", name="Reproduce").click()
    page.get_by_text(re.compile(r"^Recorded .* commit [0-9a-f]{12}")).first.wait_for()
    for row in ("code.commit", "environment.packages_sha256", "dataset.content_hash"):  # the table's cells (a canvas)
        page.get_by_text(row, exact=True).first.wait_for(state="attached")
    steps.check("reproduce")


def test_a_broken_page_fails_its_step_with_a_screenshot(browser, tmp_path):
    """The checks have teeth: a copy of the dashboard with a page that raises fails the step."""
    import shutil

    from tests.browser.conftest import ARTIFACTS, ROOT, start_dashboard, stop_dashboard

    copy = tmp_path / "trainyard"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".git", ".venv", "var", "docs", "__pycache__"))
    (copy / "pages" / "99_Broken.py").write_text(
        "import streamlit as st\n\nfrom ui.page import page\n\npage('Broken')\nst.title('Broken')\n"
        "raise RuntimeError('planted failure')\n")
    home = tmp_path / "home"
    home.mkdir()
    proc, url, log = start_dashboard(copy, home)
    context = browser.new_context()
    try:
        page = context.new_page()
        steps = Steps(page, "broken")
        page.goto(f"{url}/Broken")
        page.get_by_role("heading", name="Broken").first.wait_for()
        page.locator('[data-testid="stException"]').first.wait_for()
        with pytest.raises(AssertionError, match="Streamlit exception"):
            steps.check("page")
        assert (ARTIFACTS / "broken-01-page.png").stat().st_size > 0
    finally:
        context.close()
        stop_dashboard(proc, log)
