"""Every page opens against a seeded database, and none loads a heavy ML library."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from db import queries
from db.models import RunStatus
from db.session import session_scope
from jobs import api

ROOT = Path(__file__).resolve().parents[2]
PAGES = ["Home.py", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "pages").glob("*.py"))]
HEAVY = ["torch", "torchvision", "ultralytics", "torchreid", "stable_baselines3", "transformers", "gymnasium"]


@pytest.fixture(scope="module")
def seeded(stack):
    """A dataset, a completed run with curves, checkpoints, resources and a model, a failed and
    a pending run."""
    with session_scope() as s:
        ds = queries.get_dataset_by_name(session=s, name="seed-ds") or queries.create_dataset(
            session=s, name="seed-ds", kind="toy", root=str(stack), summary={"samples": 3, "problems": ["a.png: unreadable"]})
        done = queries.create_run(session=s, family="toy", config={"epochs": 3}, dataset_id=ds.id, name="seeded")
        rows = [{"run_id": done.id, "step": e, "epoch": e, "name": f"{split}/loss", "value": 1.0 / (e + 1)}
                for e in range(3) for split in ("train", "val")]
        queries.add_metrics(session=s, rows=rows)
        queries.add_checkpoint(session=s, run_id=done.id, step=2, path=str(stack / "x.pt"), sha256="0" * 64,
                               monitored=0.3, best=True)
        queries.add_resource_sample(session=s, run_id=done.id, cpu_percent=50, ram_percent=95, ram_mb=100)
        queries.set_run_status(session=s, run_id=done.id, status=RunStatus.completed, progress_done=9,
                               progress_total=9, out_dir=str(stack))
        queries.register_model_version(session=s, run_id=done.id, family="toy", artifact_path="x.pt",
                                       scope="all", metrics={"val/loss": 0.3})
        failed = queries.create_run(session=s, family="toy", config={}, name="broken")
        queries.set_run_status(session=s, run_id=failed.id, status=RunStatus.failed, error="ValueError: boom")
    return done.id


def open_page(page: str) -> AppTest:
    """Open ``page`` the way a browser does: through the Home entrypoint (page links resolve)."""
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=60)
    at.run()
    if page != "Home.py":
        at.switch_page(page)
    return at


@pytest.mark.parametrize("page", PAGES)
def test_page_opens_without_exceptions(seeded, page):
    at = open_page(page)
    at.run()
    assert not at.exception, [e.message for e in at.exception]


def test_progress_page_shows_the_selected_run(seeded):
    at = open_page("pages/3_Progress.py")
    at.query_params["run"] = str(seeded)
    at.run()
    assert not at.exception
    assert any("RAM use is 95%" in w.value for w in at.warning)
    assert at.selectbox[0].value.id == seeded


def test_launch_page_rejects_invalid_yaml_and_queues_nothing(seeded):
    before = api.queue_depths()
    with session_scope() as s:
        n = len(queries.list_runs(session=s))
    at = open_page("pages/2_Launch_Training.py")
    at.run()
    at.selectbox[0].set_value("toy")
    at.run()
    at.text_area[0].set_value("epochs: 0\nlearning_rate: 3\n")
    at.button(key="launch-yaml").click()
    at.run()
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "`epochs`" in text and "greater than or equal to 1" in text
    assert "`learning_rate`" in text and "unknown key" in text
    assert api.queue_depths() == before
    with session_scope() as s:
        assert len(queries.list_runs(session=s)) == n


def test_launch_page_form_queues_a_valid_run(seeded):
    with session_scope() as s:
        n = len(queries.list_runs(session=s))
    at = open_page("pages/2_Launch_Training.py")
    at.run()
    at.selectbox[0].set_value("toy")
    at.run()
    at.number_input(key="toy-epochs").set_value(2)
    at.button(key="launch-form").click()
    at.run()
    assert not at.exception
    assert any("Queued 1 run" in m.value for m in at.success)
    with session_scope() as s:
        runs = queries.list_runs(session=s)
    assert len(runs) == n + 1 and runs[0].config["epochs"] == 2
    api.cancel_run(runs[0].id)


def test_pages_do_not_import_heavy_libraries(seeded):
    """Run every page in a fresh interpreter and list the heavy modules it loaded."""
    script = (
        "import sys, json\n"
        "from streamlit.testing.v1 import AppTest\n"
        f"for page in {PAGES!r}:\n"
        "    AppTest.from_file(page, default_timeout=60).run()\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=dict(os.environ),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_generate_sample_data_button_makes_the_chosen_kind_on_a_worker(stack, worker):
    at = open_page("pages/1_Data_Sufficiency.py")
    at.run()
    at.selectbox[0].set_value("yolo")
    at.run()
    at.selectbox(key="sample-yolo-task").set_value("classify")
    at.run()
    next(b for b in at.button if b.label == "Generate sample data").click()
    at.run(timeout=300)
    assert not at.exception, [e.message for e in at.exception]
    with session_scope() as s:
        ds = queries.get_dataset_by_name(session=s, name="sample-yolo-classify")
        assert ds is not None and ds.kind == "yolo" and ds.summary["samples"] > 0


def test_analyze_drawing_lists_an_active_model_whose_scope_is_no_age_group_without_failing(seeded):
    """An active anomaly model of scope '1-4' (ages below the accepted 2–18) or 'misc' broke the
    page's sort of age groups; they are listed apart, and the real age groups still score."""
    from jobs import registry

    with session_scope() as s:
        made = [queries.register_model_version(session=s, run_id=seeded, family="anomaly", artifact_path="x.pt",
                                               scope=scope, activate=True).id for scope in ("1-4", "misc", "3-6")]
    try:
        at = open_page("pages/6_Analyze_Drawing.py")
        at.run()
        assert not at.exception, [e.message for e in at.exception]
        line = next(c.value for c in at.caption if c.value.startswith("Active models for age groups"))
        groups, _, apart = line.partition(" (not an age group")
        assert "3-6" in groups.split(": ", 1)[1].split(", ") and "1-4" not in groups and "misc" not in groups
        assert "'1-4', 'misc'" in apart
    finally:
        for version_id in made:
            registry.archive(version_id, actor="test")
