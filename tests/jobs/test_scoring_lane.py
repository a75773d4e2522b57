"""The scoring lane: predictions on their own queue and worker, models kept loaded and re-verified;
warm training workers that never initialise CUDA in the forking parent."""
from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from PIL import Image

from db import queries
from db.models import ModelVersion, RunStatus
from db.session import session_scope
from engine.checkpoints import sha256_file
from engine.trust import UntrustedModelError
from jobs import api
from tests.conftest import ROOT, start_worker, stop_worker, wait_for_status


def _anomaly_model(folder) -> int:
    """A registered anomaly artifact for ages 3-6 over the tiny ViT (untrained weights: the lane
    is what is tested, not the model)."""
    import torch

    from engine.checkpoints import save_checkpoint
    from engine.families.anomaly.backbone import TINY_VIT
    from engine.families.anomaly.config import AnomalyConfig
    from engine.families.anomaly.trainer import ARTIFACT_KIND, build_model

    config = AnomalyConfig(age_group="3-6", hidden_dims=[16], latent_dim=4)
    dim = TINY_VIT["hidden_size"] + 1
    torch.manual_seed(0)
    model = build_model(config, dim).eval()
    path = save_checkpoint(folder / "model.pt", {
        "kind": ARTIFACT_KIND, "model": model.state_dict(), "config": config.model_dump(mode="json"),
        "input_dim": dim, "mean": torch.zeros(dim), "std": torch.ones(dim), "threshold": 1.0,
        "val_errors": torch.linspace(0, 2, 20), "backbone": "tiny-vit", "age_group": "3-6", "metrics": {}})
    with session_scope() as s:
        run = queries.create_run(session=s, family="anomaly", config={})
        mv = queries.register_model_version(session=s, run_id=run.id, family="anomaly", artifact_path=str(path),
                                            scope="3-6", sha256=sha256_file(path), threshold=1.0)
    return mv.id


def _drawing() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (250, 250, 250)).save(buf, format="PNG")
    return buf.getvalue()


def test_predictions_are_served_while_every_training_worker_is_busy(stack, worker, tmp_path):
    second = start_worker(stack, "test")  # two training workers, both about to be busy
    runs = []
    try:
        # long enough to outlast a cold model load on a busy machine; cancelled below
        runs = [api.submit_run(family="toy", config={"epochs": 8, "batches": 20, "sleep_s": 0.5}) for _ in range(2)]
        for run in runs:
            wait_for_status(run.id, [RunStatus.training], timeout=120)
        mv_id = _anomaly_model(tmp_path)
        waits: list = []
        cold = api.request_prediction(mv_id, {"image": _drawing(), "age": 4.0}, timeout_s=120, on_wait=waits.append)
        warm = api.request_prediction(mv_id, {"image": _drawing(), "age": 4.0}, timeout_s=30)
        assert cold["model_version_id"] == warm["model_version_id"] == mv_id
        assert cold["reconstruction_error"] == pytest.approx(warm["reconstruction_error"])
        with session_scope() as s:  # answered while both runs still held the training workers
            assert {queries.get_run(session=s, run_id=r.id).status for r in runs} == {RunStatus.training}
        busy = {w.current_run for w in api.list_workers() if "scoring" not in w.queues}
        assert {r.id for r in runs} <= busy
    finally:
        for run in runs:
            api.cancel_run(run.id)
        for run in runs:
            wait_for_status(run.id, [RunStatus.cancelled, RunStatus.completed], timeout=120)
        stop_worker(second)


def test_the_model_cache_reuses_loaded_models_and_re_verifies_changed_files(stack, tmp_path):
    from jobs import inference

    mv_id = _anomaly_model(tmp_path)
    with session_scope() as s:
        mv = s.get(ModelVersion, mv_id)
    first = inference.model_ref(mv)
    again = inference.model_ref(mv)
    assert first.loaded is not None and again.loaded is first.loaded  # kept in memory, not reloaded
    assert (mv_id, mv.sha256) in inference.cached_models()
    with open(first.artifact_path, "ab") as fh:  # the file changes on disk after registration
        fh.write(b"tampered")
    with pytest.raises(UntrustedModelError, match="changed on disk"):
        inference.model_ref(mv)
    assert (mv_id, mv.sha256) not in inference.cached_models()


def test_worker_preload_imports_trainers_without_cuda_or_transformers(stack):
    code = ("import json, sys; from jobs.worker import preload; failed = preload(); import torch; "
            "print(json.dumps({'failed': failed, 'cuda': torch.cuda.is_initialized(), "
            "'modules': sorted(m for m in ('torch', 'jobs.tasks', 'engine.families.anomaly.trainer', "
            "'engine.families.yolo.trainer', 'tests.fixtures.toy_trainer', 'transformers', 'ultralytics') "
            "if m in sys.modules)}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["failed"] == [] and report["cuda"] is False
    assert report["modules"] == ["engine.families.anomaly.trainer", "engine.families.yolo.trainer", "jobs.tasks",
                                 "tests.fixtures.toy_trainer", "torch"]
