"""Everything a run made, on its pages: real yolo and transition runs through the queue, their
files on the Progress page's *Files* tab (Ultralytics' confusion matrix and PR curve, transition's
plots in the gallery, JSON previewed, downloads), yolo's dataset tiles, the *Reproduce* tab and
its diff against another run, the shared Results page, and *Clone and edit* pre-filling Launch."""
from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest

from db import queries
from db.models import RunStatus
from db.session import session_scope
from jobs import api, sharing
from jobs.artifacts import run_files
from tests.conftest import wait_for_status
from tests.engine.families.test_transition_train import TINY as TRANSITION_TINY
from tests.fixtures.yolo_data import TINY as YOLO_TINY
from tests.pages.test_pages import ROOT

ENDED = [RunStatus.completed, RunStatus.failed, RunStatus.cancelled]


@pytest.fixture(scope="module")
def yolo_run(stack, worker):
    info = api.generate_sample_dataset("yolo", name="files-yolo-detect", task="detect", count=24, size=64)
    run = api.submit_run(family="yolo", config={**YOLO_TINY, "task": "detect"}, dataset_id=info["dataset_id"])
    done = wait_for_status(run.id, ENDED, timeout=400)
    assert done.status == RunStatus.completed, done.error
    return done


@pytest.fixture(scope="module")
def transition_run(stack, worker):
    info = api.generate_sample_dataset("transitions", name="files-transitions", groups=6, per_group=16, seed=3,
                                       timeout_s=180)
    run = api.submit_run(family="transition", config={**TRANSITION_TINY, "max_epochs": 1}, dataset_id=info["dataset_id"],
                         tags=["files-test"])
    done = wait_for_status(run.id, ENDED, timeout=400)
    assert done.status == RunStatus.completed, done.error
    return done


def _progress(run_id: int) -> AppTest:
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/3_Progress.py")
    at.query_params["run"] = str(run_id)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _files_table(at: AppTest, run_id: int):
    return next(d.value for d in at.dataframe if "sha256" in d.value.columns and "kind" in d.value.columns)


def test_a_yolo_run_writes_ultralytics_plots_and_the_files_tab_lists_them(yolo_run):
    paths = [a.path for a in run_files(yolo_run.id).recorded]
    matrix = [p for p in paths if p.endswith("confusion_matrix.png")]
    pr = [p for p in paths if re.search(r"PR_curve\.png$", p)]
    assert matrix and pr and any(p.endswith("results.png") for p in paths), paths
    assert not any(p.startswith("data/images/") for p in paths)  # the training view's links are the dataset's

    at = _progress(yolo_run.id)
    table = _files_table(at, yolo_run.id)
    assert set(matrix + pr) <= set(table["file"])
    assert all(len(s) == 16 for s in table["sha256"])
    captions = [c for image in at.get("image") for c in image.captions]
    assert set(matrix + pr) <= set(captions)
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["classes"] and int(tiles["train images"]) > 0  # the dataset, as other families show theirs
    with session_scope() as s:
        samples = len(queries.dataset_samples(session=s, dataset_id=yolo_run.dataset_id))
    assert sum(v for k, v in yolo_run.summary.items() if re.fullmatch(r"data/\w+_images", k)) == samples
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Download" in labels and "All as zip" in labels


def test_a_transition_runs_plots_show_in_the_gallery_and_its_json_previews(transition_run):
    at = _progress(transition_run.id)
    captions = [c for image in at.get("image") for c in image.captions]
    assert captions[:3] == ["plots/dataset_statistics.png", "plots/per_patient_errors.png",
                            "plots/training_summary.png"]  # plots first
    preview = at.selectbox(key=f"files-{transition_run.id}-preview")
    preview.set_value("experiment_config.json").run()
    assert not at.exception
    assert any('"family"' in j.value and '"transition"' in j.value for j in at.json)


def test_the_reproduce_tab_shows_the_manifest_and_the_difference_to_another_run(transition_run, yolo_run):
    at = _progress(transition_run.id)
    summary = next(d.value for d in at.dataframe if list(d.value.columns) == ["what", "value"]).set_index("what")["value"]
    assert re.fullmatch(r"[0-9a-f]{40}", summary["code.commit"])
    assert re.fullmatch(r"[0-9a-f]{64}", summary["environment.packages_sha256"])
    assert summary["dataset.name"] == "files-transitions" and re.fullmatch(r"[0-9a-f]{64}", summary["dataset.content_hash"])
    at.selectbox(key=f"reproduce-{transition_run.id}-other").set_value(yolo_run).run()
    assert not at.exception
    diff = next(d.value for d in at.dataframe if "key" in d.value.columns).set_index("key")
    assert diff.loc["dataset.name", f"#{transition_run.id}"] == "files-transitions"
    assert diff.loc["dataset.name", f"#{yolo_run.id}"] == "files-yolo-detect"
    assert "run.family" in diff.index and "code.commit" not in diff.index


def test_the_shared_results_page_shows_the_gallery_read_only(transition_run):
    link = sharing.create_link([transition_run.id], title="transition files")
    at = AppTest.from_file(str(ROOT / "pages" / "5_Results.py"), default_timeout=60)
    at.query_params["token"] = link.token
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    captions = [c for image in at.get("image") for c in image.captions]
    assert "plots/training_summary.png" in captions
    assert not at.button and {b.proto.label for b in at.get("download_button")} >= {"Download", "All as zip"}


def test_clone_opens_launch_with_family_dataset_and_config_filled_in(transition_run):
    with session_scope() as s:
        before = {r.id for r in queries.list_runs(session=s)}
    at = _progress(transition_run.id)
    link = next(p for p in at.get("page_link") if p.proto.label == "Clone and edit")
    assert link.proto.page.endswith("Launch_Training") or "2_Launch_Training" in link.proto.page
    assert f"clone={transition_run.id}" in link.proto.query_string

    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/2_Launch_Training.py")
    at.query_params["clone"] = str(transition_run.id)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.selectbox[0].value == "transition"
    assert at.selectbox[1].value.id == transition_run.dataset_id
    assert at.number_input(key="transition-form-max_epochs").value == 1
    assert at.number_input(key="transition-form-d_model").value == TRANSITION_TINY["d_model"]
    assert at.text_input(key="launch-tags").value == "files-test"
    assert "max_epochs: 1" in at.text_area(key="yaml-transition").value
    at.number_input(key="transition-form-max_epochs").set_value(2).run()
    at.button(key="launch-form").click().run()
    assert not at.exception, [e.message for e in at.exception]
    with session_scope() as s:
        new = [r for r in queries.list_runs(session=s) if r.id not in before]
    assert len(new) == 1 and new[0].cloned_from == transition_run.id and new[0].tags == ["files-test"]
    assert new[0].config == {**transition_run.config, "max_epochs": 2}
    assert new[0].dataset_id == transition_run.dataset_id and new[0].name.endswith("(clone)")
    api.cancel_run(new[0].id)
