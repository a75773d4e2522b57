"""The trust boundary for model files: nothing a user supplies runs as code on a worker.

Each crafted file, if it were unpickled, would create a marker file; every test asserts the
marker never appears and the refusal names where user weights belong.
"""
from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path

import pytest

from db import queries
from db.models import RunStatus
from db.session import session_scope
from engine.configs import ConfigError
from engine.trust import UntrustedModelError, user_weights, verify_recorded
from jobs import api
from jobs.enqueue import enqueue_run_attempt
from tests.conftest import wait_for_status


class _Payload:
    """Pickles to a call of ``os.system`` that creates the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def crafted_pt(path: Path, marker: Path) -> Path:
    """A torch-style zip checkpoint whose pickle runs a command when loaded without weights_only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", pickle.dumps({"model": _Payload(marker)}, protocol=2))
        zf.writestr("archive/version", "3\n")
    return path


@pytest.fixture
def marker(tmp_path) -> Path:
    m = tmp_path / "EXECUTED"
    yield m
    assert not m.exists(), "a crafted model file ran code"


def _models_dir() -> Path:
    from settings import get_settings

    return get_settings().resolved_models_dir


def test_yolo_model_outside_models_folder_is_refused_at_submit(stack, tmp_path, marker):
    evil = crafted_pt(tmp_path / "evil.pt", marker)
    with session_scope() as s:
        before = len(queries.list_runs(session=s, limit=10_000))
    with pytest.raises(ConfigError) as err:
        api.submit_run(family="yolo", config={"model": str(evil), "epochs": 1})
    assert "models folder" in str(err.value) and str(_models_dir()) in str(err.value)
    with session_scope() as s:
        assert len(queries.list_runs(session=s, limit=10_000)) == before, "nothing may be stored"


def test_worker_refuses_a_forged_run_whose_model_is_outside(stack, worker, tmp_path, marker):
    """A run row written around the API (or by an older version) is re-validated on the worker."""
    evil = crafted_pt(tmp_path / "evil2.pt", marker)
    with session_scope() as s:
        run = queries.create_run(session=s, family="yolo", config={"model": str(evil), "epochs": 1},
                                 dataset_id=None, name="forged", task="detect", priority="default")
    enqueue_run_attempt(run.id, "default")
    done = wait_for_status(run.id, [RunStatus.failed, RunStatus.completed], timeout=120)
    assert done.status == RunStatus.failed
    assert "models folder" in done.error


def test_symlink_in_models_folder_pointing_outside_is_refused(stack, tmp_path, marker):
    evil = crafted_pt(tmp_path / "evil3.pt", marker)
    link = _models_dir() / "innocent.pt"
    link.unlink(missing_ok=True)
    link.symlink_to(evil)
    try:
        with pytest.raises(UntrustedModelError, match="outside the models folder"):
            user_weights("innocent.pt")
        with pytest.raises(ConfigError, match="models folder"):
            api.submit_run(family="yolo", config={"model": "innocent.pt", "epochs": 1})
    finally:
        link.unlink()


def test_weights_inside_models_folder_are_accepted(stack):
    from engine.families.yolo.config import YoloConfig

    (_models_dir() / "mine.pt").write_bytes(b"operator-provided")
    cfg = YoloConfig(model="mine.pt")
    assert cfg.model_source() == str(_models_dir() / "mine.pt")
    assert YoloConfig(model="yolov8n.yaml").model_source() == "yolov8n.yaml"  # Ultralytics' own yaml
    with pytest.raises(Exception, match="models folder"):
        YoloConfig(model="../../etc/evil.pt")


def test_tampered_registered_artifact_is_refused_by_try_model(stack, worker, tmp_path, marker):
    """A registered model file swapped on disk afterwards no longer matches its sha256."""
    artifact = tmp_path / "best.pt"
    artifact.write_bytes(b"the file Trainyard wrote")
    from engine.checkpoints import sha256_file

    with session_scope() as s:
        run = queries.create_run(session=s, family="yolo", config={}, dataset_id=None, name="reg",
                                 task="detect", priority="default")
        mv = queries.register_model_version(session=s, run_id=run.id, family="yolo", task="detect",
                                            scope="tampered-test", artifact_path=str(artifact),
                                            sha256=sha256_file(artifact), activate=False)
        mv_id = mv.id
    crafted_pt(artifact, marker)  # replaced after registration
    with pytest.raises(RuntimeError, match="changed on disk"):
        api.request_prediction(mv_id, {"image": b""}, timeout_s=120)


def test_verify_recorded_refuses_files_without_a_record(tmp_path):
    f = tmp_path / "x.pt"
    f.write_bytes(b"x")
    with pytest.raises(UntrustedModelError, match="no recorded sha256"):
        verify_recorded(f, None)


def test_vit_backbone_outside_models_folder_is_refused(stack, tmp_path):
    from engine.families.anomaly.config import AnomalyConfig

    with pytest.raises(Exception, match="models folder"):
        AnomalyConfig(backbone=str(tmp_path / "some-vit"))
    assert AnomalyConfig(backbone="google/vit-base-patch16-224-in21k").backbone  # a hub id is not a path


def test_pickled_vit_weights_are_never_loaded(stack, marker):
    """Even inside the models folder, a ViT folder is read as safetensors only."""
    from engine.families.anomaly.backbone import Backbone

    folder = _models_dir() / "pickled-vit"
    folder.mkdir(exist_ok=True)
    (folder / "config.json").write_text('{"model_type": "vit", "hidden_size": 48, "num_hidden_layers": 1, '
                                        '"num_attention_heads": 4, "intermediate_size": 96, "image_size": 32, '
                                        '"patch_size": 16}')
    crafted_pt(folder / "pytorch_model.bin", marker)
    with pytest.raises(Exception):  # noqa: B017 - any refusal will do; what matters is the marker below
        Backbone("pickled-vit")


@pytest.mark.parametrize("name", ["~0", "~no-such-user-here/model.pt"])
def test_a_tilde_naming_no_user_is_refused_as_a_model_name_not_a_crash(name):
    # found by the config fuzzer: Path.expanduser raises RuntimeError for an unknown user
    with pytest.raises(UntrustedModelError, match="names no user's home folder"):
        user_weights(name)
    with pytest.raises(ConfigError, match="backbone"):
        from engine.configs import validate_config
        from engine.families import FAMILIES
        validate_config(FAMILIES["anomaly"], {"backbone": name})
