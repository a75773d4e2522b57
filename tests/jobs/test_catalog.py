"""The base-model catalog (``jobs.catalog``): ``models add`` then a launch with the entry trains on
a real worker; ``models pull`` offline fails at once naming the file to place and where; a
catalogued file that changed is refused at launch and, when it changes after launch, by the
worker before anything loads; a file the catalog does not hold is refused at launch."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from db import queries
from db.models import RunStatus
from db.session import session_scope
from engine.configs import ConfigError
from jobs import api
from jobs.catalog import start_note
from jobs.datasets import generate_sample_job
from jobs.launch import plan_launch
from settings import get_settings
from tests.conftest import wait_for_status
from tests.fixtures.yolo_data import TINY

ROOT = Path(__file__).resolve().parents[2]
GUARD = ROOT / "tests" / "fixtures" / "netguard"
FINAL = [RunStatus.completed, RunStatus.failed, RunStatus.cancelled]
ONE = {**TINY, "epochs": 1, "task": "detect"}


def _engine(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine", *args], cwd=ROOT, env=env or dict(os.environ),
                          capture_output=True, text=True, timeout=timeout)


def _architecture_yaml(tmp_path: Path, name: str) -> Path:
    """An Ultralytics model yaml (plain text: builds a fresh yolo11n, loads nothing pickled)."""
    import ultralytics

    src = Path(ultralytics.__file__).parent / "cfg" / "models" / "11" / "yolo11.yaml"
    dest = tmp_path / name
    dest.write_text(src.read_text())
    return dest


def _run_count() -> int:
    with session_scope() as s:
        return sum(queries.count_runs_by_status(session=s).values())


@pytest.fixture(scope="module")
def detect_data(stack):
    return generate_sample_job("yolo", "yolo-catalog", {"task": "detect", "count": 16, "size": 64})["dataset_id"]


def test_models_add_then_launch_with_the_entry(stack, worker, detect_data, tmp_path):
    src = _architecture_yaml(tmp_path, "catalog-yolo11n.yaml")
    proc = _engine("models", "add", str(src), "--family", "yolo")
    assert proc.returncode == 0, proc.stderr
    assert "added catalog-yolo11n.yaml: family yolo (detect), yaml" in proc.stdout
    target = get_settings().resolved_models_dir / "catalog-yolo11n.yaml"
    assert target.read_bytes() == src.read_bytes()  # copied in
    with session_scope() as s:
        entry = queries.catalog_entry(session=s, name="catalog-yolo11n.yaml")
    assert entry.family == "yolo" and entry.task == "detect" and entry.size == src.stat().st_size
    assert entry.source == f"added from {src.resolve()}"
    listing = _engine("models", "list")
    assert "catalog-yolo11n.yaml\tyolo\tdetect\tyaml" in listing.stdout and "sha256 ✓" in listing.stdout

    run = api.submit_run(family="yolo", config={**ONE, "model": "catalog-yolo11n.yaml"}, dataset_id=detect_data)
    done = wait_for_status(run.id, FINAL, timeout=300)
    assert done.status == RunStatus.completed, done.error
    assert done.config["model"] == "catalog-yolo11n.yaml"  # the YAML keeps the real loading name
    assert start_note("yolo", done.config) is None  # it started from base weights, not from scratch
    with session_scope() as s:
        manifest = queries.latest_manifest(session=s, run_id=run.id).data
    assert [(b["what"], b["sha256"]) for b in manifest["base_weights"]] == [
        ("base model catalog-yolo11n.yaml", entry.sha256)]  # the worker verified it and the record says so


def test_a_tampered_catalog_file_is_refused_at_launch(stack, detect_data, tmp_path):
    src = _architecture_yaml(tmp_path, "tamper-yolo11n.yaml")
    assert _engine("models", "add", str(src)).returncode == 0
    target = get_settings().resolved_models_dir / "tamper-yolo11n.yaml"
    target.write_text(target.read_text() + "\n# changed\n")
    before = _run_count()
    with pytest.raises(ConfigError, match=r"model.*'tamper-yolo11n.yaml' changed since it was catalogued"):
        api.submit_run(family="yolo", config={**ONE, "model": "tamper-yolo11n.yaml"}, dataset_id=detect_data)
    assert _run_count() == before


def test_a_file_changed_after_launch_is_refused_by_the_worker(stack, worker, detect_data, tmp_path):
    src = _architecture_yaml(tmp_path, "late-yolo11n.yaml")
    assert _engine("models", "add", str(src)).returncode == 0
    plan = plan_launch("yolo", dataset_id=detect_data, config={**ONE, "model": "late-yolo11n.yaml"})  # intact here
    target = get_settings().resolved_models_dir / "late-yolo11n.yaml"
    target.write_text(target.read_text() + "\n# swapped after launch\n")
    (run,) = api.submit_plan(plan)
    done = wait_for_status(run.id, FINAL, timeout=120)
    assert done.status == RunStatus.failed
    assert "'late-yolo11n.yaml' changed since it was catalogued" in done.error
    with session_scope() as s:
        assert queries.list_checkpoints(session=s, run_id=run.id) == []  # nothing trained


def test_a_file_the_catalog_does_not_hold_is_refused_at_launch(stack, detect_data, tmp_path):
    folder = get_settings().resolved_models_dir
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "stray-yolo11n.yaml").write_text(_architecture_yaml(tmp_path, "x.yaml").read_text())
    with pytest.raises(ConfigError, match=r"'stray-yolo11n.yaml' is not in the base-model catalog.*models add"):
        plan_launch("yolo", dataset_id=detect_data, config={**ONE, "model": "stray-yolo11n.yaml"})
    assert _engine("models", "add", str(_architecture_yaml(tmp_path, "other-yolo11n.yaml"))).returncode == 0
    with pytest.raises(ConfigError, match=r"weights.*'other-yolo11n.yaml' is a yolo base model, not a reid one"):
        plan_launch("reid", config={"weights": "other-yolo11n.yaml"})


@pytest.mark.parametrize("name, family", [("yolo11n.pt", "yolo"), ("osnet_x1_0_imagenet.pth", "reid"),
                                          ("google/vit-base-patch16-224-in21k", "anomaly")])
def test_models_pull_offline_fails_at_once_naming_the_file_and_where(stack, tmp_path, name, family):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(GUARD), str(ROOT)]),
               TRAINYARD_NETGUARD_LOG=str(tmp_path / "net.log"))
    proc = _engine("models", "pull", name, env=env, timeout=60)  # returns, does not hang on a dead network
    place = get_settings().resolved_models_dir / name
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"cannot pull {name!r}" in proc.stderr and "is not reachable" in proc.stderr
    assert f"copy it to {place}" in proc.stderr and f"models add {place} --family {family}" in proc.stderr
    assert not place.exists()
    with session_scope() as s:
        assert queries.catalog_entry(session=s, name=name) is None


def test_pull_refuses_a_name_it_does_not_know(stack):
    proc = _engine("models", "pull", "resnet50.bin")
    assert proc.returncode == 2 and "not a name `models pull` knows" in proc.stderr and "yolo11n.pt" in proc.stderr


def test_a_vit_folder_is_catalogued_as_one_digest_and_a_changed_file_inside_is_refused(stack, tmp_path):
    from engine.trust import UntrustedModelError
    from jobs.catalog import add_file, catalog_refs, verify_entry

    vit = tmp_path / "my-vit"
    vit.mkdir()
    (vit / "config.json").write_text('{"model_type": "vit"}')
    (vit / "model.safetensors").write_bytes(b"\0" * 64)
    entry = add_file(vit, name="vits/my-vit")
    assert (entry.family, entry.format, entry.size) == ("anomaly", "safetensors folder", 64 + 21)
    from engine.families.anomaly.config import AnomalyConfig

    config = AnomalyConfig(backbone="vits/my-vit")
    assert [r.name for r in catalog_refs("anomaly", config)] == ["vits/my-vit"]
    assert catalog_refs("anomaly", AnomalyConfig()) == []  # tiny-vit: built locally, nothing to check
    assert verify_entry("vits/my-vit", family="anomaly").sha256 == entry.sha256
    (get_settings().resolved_models_dir / "vits" / "my-vit" / "model.safetensors").write_bytes(b"\1" * 64)
    with pytest.raises(UntrustedModelError, match="'vits/my-vit' changed since it was catalogued"):
        verify_entry("vits/my-vit", family="anomaly")
    with pytest.raises(ConfigError, match=r"backbone.*'vits/my-vit' changed since it was catalogued"):
        plan_launch("anomaly", config={"backbone": "vits/my-vit"})


def test_a_file_already_in_the_folder_is_recorded_in_place(stack):
    from jobs.catalog import add_file

    folder = get_settings().resolved_models_dir
    (folder / "policy-start.pt").write_bytes(b"a ppo policy, never loaded here")
    entry = add_file(folder / "policy-start.pt", family="ppo")
    assert entry.name == "policy-start.pt" and entry.source == "recorded in place" and entry.family == "ppo"
