"""Every registered family through the same path at tiny sizes (its ``Family.conformance``):
generate sample data and import it, gate, submit through the real queue to a real worker,
metrics arrive, cancel mid-run, a tampered checkpoint is refused, resume with no duplicate or
missing step, the model is registered (a candidate the activation policy then decides on), and
a dataset with a broken file imports its valid rest with one problem naming the file.

A new family gets all of it by registering with a ``Conformance``; family-specific learning
tests stay in ``tests/engine/families``."""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from db import queries
from db.models import RunStatus
from db.session import session_scope
from engine.checkpoints import sha256_file
from engine.configs import validate_config
from engine.datasets import DATASET_KINDS
from engine.families import FAMILIES, load_plugins
from jobs import api
from jobs.datasets import generate_sample_job, import_dataset
from jobs.inputs import dataset_ref
from settings import get_settings
from tests.conftest import FIXTURE_FAMILIES, wait_for_status

END = [RunStatus.completed, RunStatus.failed, RunStatus.cancelled]
BUILT_IN = ("anomaly", "yolo", "reid", "ppo", "transition")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp"}


def _families() -> list[str]:
    load_plugins(FIXTURE_FAMILIES)  # the toy family too (the workers load it from the environment)
    return sorted(k for k in FAMILIES if FAMILIES[k].conformance is not None)


FAMILY_KEYS = _families()


def test_every_built_in_family_and_the_toy_have_a_conformance_profile():
    assert set(BUILT_IN) | {"toy"} <= set(FAMILY_KEYS)


def _steps(run_id: int, name: str) -> list[int]:
    with session_scope() as s:
        return [m.step for m in queries.metric_rows(session=s, run_id=run_id, names=[name])]


def _checkpoints(run_id: int) -> list:
    with session_scope() as s:
        return queries.list_checkpoints(session=s, run_id=run_id)


def _sample_dataset(key: str) -> int | None:
    family = FAMILIES[key]
    if not family.dataset_kind:
        return None
    info = generate_sample_job(family.dataset_kind, f"conformance-{key}", dict(family.conformance.sample_options))
    assert info["samples"] > 0 and not info["problems"], info["problems"][:3]
    return info["dataset_id"]


def _cancel_after_first_metric(run_id: int, metric: str, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while not _steps(run_id, metric):
        with session_scope() as s:
            run = queries.get_run(session=s, run_id=run_id)
        assert run.status.active, f"run ended {run.status.value} before logging {metric}: {run.error}"
        assert time.monotonic() < deadline, f"no {metric} after {timeout} s"
        time.sleep(0.05)
    api.cancel_run(run_id)


@pytest.mark.parametrize("key", FAMILY_KEYS)
def test_family_runs_the_whole_lifecycle(stack, worker, key):
    family = FAMILIES[key]
    profile = family.conformance
    dataset_id = _sample_dataset(key)
    config = validate_config(family, dict(profile.config))
    assert family.launch_blockers(dataset_ref(dataset_id), config) == []

    run = api.submit_run(family=key, config=dict(profile.config), dataset_id=dataset_id, name=f"conformance {key}")
    _cancel_after_first_metric(run.id, profile.step_metric)
    done = wait_for_status(run.id, END, timeout=180)
    assert done.status == RunStatus.cancelled, (
        f"{key}: the run must still be training when its first {profile.step_metric} arrives "
        f"(make the conformance config longer); it ended {done.status.value}: {done.error}")
    before = _steps(run.id, profile.step_metric)
    assert before and before == sorted(set(before)), before
    ckpts = _checkpoints(run.id)
    assert ckpts, f"{key}: a cancelled run keeps a checkpoint to resume from"

    # every checkpoint file changed on disk: resume refuses and nothing changes
    files = sorted({Path(c.path) for c in ckpts if Path(c.path).is_file()})
    saved = {p: p.read_bytes() for p in files}
    for p in files:
        with open(p, "ab") as fh:
            fh.write(b"tampered")
    with pytest.raises(ValueError, match="sha256"):
        api.resume_run(run.id)
    with session_scope() as s:
        assert queries.get_run(session=s, run_id=run.id).status == RunStatus.cancelled
    for p, data in saved.items():
        p.write_bytes(data)

    api.resume_run(run.id)
    done = wait_for_status(run.id, END, timeout=600)
    assert done.status == RunStatus.completed, done.error
    after = _steps(run.id, profile.step_metric)
    assert after == list(profile.steps), f"{key}: steps after resume {after[:5]}…{after[-5:]}"

    with session_scope() as s:
        versions = [m for m in queries.list_model_versions(session=s, family=key) if m.run_id == run.id]
    assert len(versions) == 1, versions
    (version,) = versions
    assert getattr(version.status, "value", version.status) in ("candidate", "active")
    assert sha256_file(Path(version.artifact_path)) == version.sha256


@pytest.mark.parametrize("key", [k for k in FAMILY_KEYS if FAMILIES[k].dataset_kind])
def test_a_broken_file_is_one_named_problem_and_the_rest_imports(stack, key):
    family = FAMILIES[key]
    data_root = get_settings().resolved_data_root
    src = DATASET_KINDS[family.dataset_kind].generate(data_root / f"conformance-src-{key}",
                                                      **dict(family.conformance.sample_options))
    bad = data_root / f"conformance-broken-{key}"
    shutil.rmtree(bad, ignore_errors=True)
    shutil.copytree(src, bad)
    victim = next(p for p in sorted(bad.rglob("*")) if p.suffix.lower() in IMAGE_SUFFIXES)
    victim.write_bytes(b"\x89PNG\r\n\x1a\n not an image at all")
    good, good_report = import_dataset(name=f"conformance-ok-{key}", kind=family.dataset_kind, root=src)
    dataset, report = import_dataset(name=f"conformance-broken-{key}", kind=family.dataset_kind, root=bad)
    named = [p for p in report.problems if victim.name in str(p)]
    assert named, f"{key}: no problem names {victim.name}: {[str(p) for p in report.problems][:5]}"
    assert 0 < len(report.samples) < len(good_report.samples)
    rel = victim.relative_to(bad).as_posix()
    assert not any(rel.endswith(s.path) or s.path.endswith(rel) for s in report.samples), rel
