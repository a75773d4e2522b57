"""What a run leaves behind, through the real queue and worker: every file of its folder recorded
with size and sha256, a manifest of what produced it (commit, packages and their digest, dataset
and its content hash, seed, machine), downloads that refuse a changed file and any path outside
the run folder, ``runs show``, notes, and deletion behind its rules."""
from __future__ import annotations

import hashlib
import io
import os
import re
import zipfile
from pathlib import Path

import pytest

from cli import main as cli
from db import queries
from db.models import RunStatus
from db.session import session_scope
from engine import provenance
from engine.artifacts import OutsideRunFolder
from jobs import api, housekeeping, registry
from jobs.artifacts import ArtifactRefused, run_files, verified_bytes, zip_bytes
from jobs.datasets import generate_sample_job
from jobs.manifest import manifest_diff, manifest_of
from tests.conftest import wait_for_status

ENDED = [RunStatus.completed, RunStatus.failed, RunStatus.cancelled]


@pytest.fixture(scope="module")
def toy_run(stack, worker):
    run = api.submit_run(family="toy", config={"epochs": 3, "batches": 2, "seed": 7}, description="records test",
                         tags=["records", "toy"])
    done = wait_for_status(run.id, ENDED)
    assert done.status == RunStatus.completed, done.error
    return done


def test_every_file_of_the_run_folder_is_recorded_with_its_sha256(toy_run):
    files = run_files(toy_run.id)
    assert files.is_recorded
    recorded = {a.path: a for a in files.recorded}
    on_disk = {p.relative_to(toy_run.out_dir).as_posix() for p in Path(toy_run.out_dir).rglob("*") if p.is_file()}
    assert set(recorded) == on_disk and {"train.log", "last.pt"} <= on_disk
    for path, a in recorded.items():
        data = (Path(toy_run.out_dir) / path).read_bytes()
        assert a.size == len(data) and a.sha256 == hashlib.sha256(data).hexdigest()
    assert recorded["last.pt"].kind == "checkpoint" and recorded["train.log"].kind == "text"


def test_the_run_log_holds_each_line_once(toy_run):
    """The training interpreter logs to stderr as well, and stderr goes to the same file while the
    run lasts: its stderr handler rests then, so no line appears twice."""
    lines = (Path(toy_run.out_dir) / "train.log").read_text().splitlines()
    assert sum("manifest stored" in line for line in lines) == 1, lines[:6]
    assert sum(line.endswith("ended: completed") for line in lines) == 1


def test_the_manifest_holds_commit_packages_digest_seed_machine_and_worker(toy_run):
    manifest = manifest_of(toy_run.id)
    assert manifest is not None
    code = manifest["code"]
    assert re.fullmatch(r"[0-9a-f]{40}", code["commit"]) and isinstance(code["dirty"], bool)
    env = manifest["environment"]
    assert env["packages"]["torch"] and env["packages"]["streamlit"]
    assert env["packages_sha256"] == provenance.packages_digest(env["packages"])
    assert re.fullmatch(r"[0-9a-f]{64}", env["packages_sha256"])
    assert manifest["seed"] == 7 and manifest["config"]["epochs"] == 3
    assert manifest["machine"]["host"] and manifest["machine"]["cpu_count"] >= 1
    assert manifest["worker"] == toy_run.worker and manifest["run"]["attempt"] == toy_run.attempt
    assert manifest["dataset"] is None and manifest["start_weights"] is None


def test_two_runs_on_different_data_show_the_difference(stack, worker):
    ids, runs = [], []
    for count in (12, 16):
        info = generate_sample_job("logos", f"records-logos-{count}", {"count": count, "size": 32})
        ids.append(info["dataset_id"])
        run = api.submit_run(family="toy", config={"epochs": 1}, dataset_id=info["dataset_id"])
        runs.append(run)
    done = [wait_for_status(r.id, ENDED) for r in runs]
    assert all(d.status == RunStatus.completed for d in done), [d.error for d in done]
    a, b = (manifest_of(r.id) for r in runs)
    with session_scope() as s:
        hashes = [queries.get_dataset(session=s, dataset_id=i).content_hash for i in ids]
    assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes) and hashes[0] != hashes[1]
    assert a["dataset"]["content_hash"] == hashes[0] and b["dataset"]["content_hash"] == hashes[1]
    assert sum(a["dataset"]["splits"].values()) == a["dataset"]["samples"] > 0
    changed = {key for key, _, _ in manifest_diff(a, b)}
    assert {"dataset.name", "dataset.content_hash", "dataset.id", "dataset.samples"} <= changed
    assert "environment.packages_sha256" not in changed and "code.commit" not in changed  # same install, same code
    assert not any(k.startswith(("run.id", "created_at")) for k in changed)


def test_a_download_refuses_a_changed_file_and_any_path_outside_the_run_folder(toy_run, tmp_path):
    out = Path(toy_run.out_dir)
    assert verified_bytes(toy_run.id, "train.log") == (out / "train.log").read_bytes()
    secret = tmp_path / "secret.txt"
    secret.write_text("outside the run folder")
    (out / "link.txt").symlink_to(secret)
    (out / "linked-dir").symlink_to(tmp_path, target_is_directory=True)
    for path in ("../" + out.name + "/train.log", "../../secret.txt", str(secret), "/etc/passwd", "link.txt",
                 "linked-dir/secret.txt", "", "plots/../train.log"):
        with pytest.raises(OutsideRunFolder):
            verified_bytes(toy_run.id, path)
    (out / "unrecorded.txt").write_text("written after the run ended")
    with pytest.raises(ArtifactRefused, match="not recorded"):
        verified_bytes(toy_run.id, "unrecorded.txt")

    log = out / "train.log"
    original = log.read_bytes()
    log.write_bytes(original + b"appended later\n")
    try:
        with pytest.raises(ArtifactRefused, match="changed on disk"):
            verified_bytes(toy_run.id, "train.log")
        with zipfile.ZipFile(io.BytesIO(zip_bytes(toy_run.id))) as zf:
            names = set(zf.namelist())
            assert f"run-{toy_run.id}/last.pt" in names and f"run-{toy_run.id}/train.log" not in names
            assert "train.log: " in zf.read(f"run-{toy_run.id}/NOT-INCLUDED.txt").decode()
            assert not any("secret" in n or "link" in n or "unrecorded" in n for n in names)
    finally:
        log.write_bytes(original)
        for name in ("link.txt", "linked-dir", "unrecorded.txt"):
            os.unlink(out / name)
    assert verified_bytes(toy_run.id, "train.log") == original


def test_runs_show_prints_the_manifest_and_the_artifacts(toy_run, capsys):
    assert cli(["runs", "show", str(toy_run.id)]) == 0
    out = capsys.readouterr().out
    manifest = manifest_of(toy_run.id)
    assert f"run {toy_run.id} " in out and "tags: records, toy" in out and "description: records test" in out
    assert manifest["code"]["commit"] in out and manifest["environment"]["packages_sha256"] in out
    digest = hashlib.sha256((Path(toy_run.out_dir) / "last.pt").read_bytes()).hexdigest()
    assert re.search(rf"last\.pt\s+[\d,]+\s+{digest}", out)
    assert cli(["runs", "show", "999999"]) == 2


def test_notes_are_searchable_and_tags_are_checked(toy_run):
    housekeeping.set_notes(toy_run.id, description="Baseline with LR 0.1, 3 epochs", tags="baseline, LR-0.1, baseline")
    with session_scope() as s:
        run = queries.get_run(session=s, run_id=toy_run.id)
        assert run.tags == ["baseline", "LR-0.1"] and run.description.startswith("Baseline")
        assert toy_run.id in {r.id for r in queries.list_runs(session=s, text="lr 0.1")}
        assert toy_run.id in {r.id for r in queries.list_runs(session=s, tags=["baseline", "LR-0.1"])}
        assert toy_run.id not in {r.id for r in queries.list_runs(session=s, tags=["baseline", "other"])}
        assert toy_run.id not in {r.id for r in queries.find_runs(session=s, tags=["LR"])}  # whole tags only
        assert "LR-0.1" in queries.run_tags(session=s)
    with pytest.raises(ValueError, match="at most 40"):
        housekeeping.set_notes(toy_run.id, description="", tags=["x" * 41])
    with pytest.raises(ValueError, match="tags: 21 given"):
        api.submit_run(family="toy", config={"epochs": 1}, tags=[f"t{i}" for i in range(21)])


def test_delete_is_refused_while_active_or_its_model_is_active_and_audited(stack, worker):
    with session_scope() as s:
        pending = queries.create_run(session=s, family="toy", config={"epochs": 1}, name="never started")
    with pytest.raises(housekeeping.RunNotDeletable, match="is pending"):
        housekeeping.delete_run(pending.id)

    run = api.submit_run(family="toy", config={"epochs": 2})
    done = wait_for_status(run.id, ENDED)
    assert done.status == RunStatus.completed, done.error
    with session_scope() as s:
        version = queries.model_versions_for_runs(session=s, run_ids=[run.id])[0]
    registry.activate(version.id, actor="test")
    with pytest.raises(housekeeping.RunNotDeletable, match=f"model #{version.id} is the active"):
        housekeeping.delete_run(run.id)
    registry.archive(version.id, actor="test")
    clone = api.submit_run(family="toy", config={"epochs": 1}, cloned_from=run.id)
    wait_for_status(clone.id, ENDED)

    counts = housekeeping.delete_run(run.id, actor="test")
    assert counts["metrics"] == 4 and counts["checkpoints"] == 2 and counts["model versions"] == 1
    assert counts["files"] >= 2 and not Path(done.out_dir).exists()
    with session_scope() as s:
        assert queries.get_run(session=s, run_id=run.id) is None
        assert queries.metric_rows(session=s, run_id=run.id) == [] and queries.list_artifacts(session=s, run_id=run.id) == []
        assert queries.get_run(session=s, run_id=clone.id).cloned_from is None  # the clone stays
        line = queries.model_events(session=s, family="toy", limit=5)[0]
    assert line.action == "delete-run" and line.actor == "test" and f"run #{run.id}" in line.reason
    assert "4 metrics" in line.reason and "1 model versions" in line.reason
    api.cancel_run(pending.id)
    assert housekeeping.delete_run(pending.id)["metrics"] == 0  # a run that never started has no folder
