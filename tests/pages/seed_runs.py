"""A database seeded with finished runs of several families, their curves and registered models,
put through the real activation policy (shared by the comparison, models and results tests)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

import pytest

from db import queries
from db.models import RunStatus, utcnow
from db.session import session_scope
from jobs import registry
from settings import get_settings


@dataclass
class Seed:
    anomaly_good: int
    anomaly_worse: int
    yolo_good: int
    yolo_zero: int
    long_run: int
    versions: dict[int, int]  # run id → model version id


def _run(s, *, family, task, scope, config, curves, summary, dataset_id=None, artifact=True):
    run = queries.create_run(session=s, family=family, config=config, task=task, dataset_id=dataset_id,
                             name=f"seed-{family}-{task or scope}")
    start = utcnow() - timedelta(hours=1)
    rows = [{"run_id": run.id, "step": step, "epoch": step // 10, "name": name, "value": value,
             "time": start + timedelta(seconds=step)} for name, values in curves.items() for step, value in values]
    queries.add_metrics(session=s, rows=rows)
    out = get_settings().resolved_artifacts_dir / "runs" / str(run.id)
    out.mkdir(parents=True, exist_ok=True)
    (out / "train.log").write_text(f"run {run.id} log line\n")
    queries.set_run_status(session=s, run_id=run.id, status=RunStatus.completed, summary=summary, out_dir=str(out),
                           started_at=start)
    version = None
    if artifact:
        path = out / "model.pt"
        path.write_bytes(f"weights of run {run.id}".encode())
        version = registry.register_candidate(session=s, run_id=run.id, family=family, task=task, scope=scope,
                                              artifact_path=str(path), sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
                                              metrics=summary, threshold=summary.get("threshold"))
    return run.id, version.id if version else None


_SEEDED: dict[str, Seed] = {}


@pytest.fixture(scope="session")
def seed(stack) -> Seed:
    """Seeded once per installation, though each test module imports the fixture: a second copy
    of the same runs would tie with the first and stay candidates (the policy working, but not
    what these tests look at)."""
    if str(stack) not in _SEEDED:
        _SEEDED[str(stack)] = _seed(stack)
    return _SEEDED[str(stack)]


def _seed(stack) -> Seed:
    versions = {}
    with session_scope() as s:
        ds = queries.create_dataset(session=s, name=f"seed-drawings-{utcnow().timestamp()}", kind="drawings",
                                    root=str(stack), summary={"samples": 40})
        ds.content_hash = "c0ffee" * 8
    made = []
    for family, task, scope, config, curves, summary in [
        ("anomaly", None, "11-13", {"epochs": 20, "learning_rate": 0.001, "hidden": 64},
         {"train/loss": [(e, 1 / (e + 1)) for e in range(20)], "val/loss": [(e, 1.2 / (e + 1)) for e in range(20)]},
         {"val/loss": 0.2123456789012, "val/auroc": 0.91234567, "threshold": 0.5012345, "val/precision": 0.8,
          "val/recall": 0.7}),
        ("anomaly", None, "11-13", {"epochs": 5, "learning_rate": 0.01, "hidden": 64},
         {"train/loss": [(e, 2 / (e + 1)) for e in range(5)], "val/loss": [(e, 2.2 / (e + 1)) for e in range(5)]},
         {"val/loss": 0.45, "val/auroc": 0.7, "threshold": 0.9}),
        ("yolo", "detect", "detect", {"task": "detect", "model": "yolov8n.yaml", "epochs": 30, "imgsz": 320},
         {"val/mAP50-95": [(e, 0.49 * e / 29) for e in range(30)], "train/box_loss": [(e, 3 - e / 15) for e in range(30)]},
         {"val/mAP50-95": 0.49, "val/mAP50": 0.71, "val/precision": 0.6, "val/recall": 0.5}),
        ("yolo", "detect", "detect", {"task": "detect", "model": "yolov8s.yaml", "epochs": 1, "imgsz": 320},
         {"val/mAP50-95": [(0, 0.0)], "train/box_loss": [(0, 3.0)]},
         {"val/mAP50-95": 0.0, "val/mAP50": 0.0, "val/precision": 0.0, "val/recall": 0.0}),
    ]:
        with session_scope() as s:
            run_id, version_id = _run(s, family=family, task=task, scope=scope, config=config, curves=curves,
                                      summary=summary, dataset_id=ds.id if family == "anomaly" else None)
        registry.decide(version_id)  # each finishes after the one before, as on a worker
        made.append(run_id)
        versions[run_id] = version_id
    with session_scope() as s:  # a long history: 20 000 steps with one spike and one dip
        values = [(i, 1.0 + (i % 7) * 0.01) for i in range(20_000)]
        values[12_345] = (12_345, 50.0)
        values[777] = (777, -5.0)
        long_run, _ = _run(s, family="toy", task=None, scope="long", config={"epochs": 200, "lr": 0.1},
                           curves={"train/loss": values}, summary={"val/loss": 1.0}, artifact=False)
    return Seed(*made, long_run=long_run, versions=versions)
