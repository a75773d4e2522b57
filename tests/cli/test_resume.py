"""``python -m engine resume RUN_ID [--checkpoint ID]`` on a real queue and worker: it resumes from
the checkpoint it is given (not the newest), refuses an id the run does not have and a chosen
checkpoint whose file changed, and without ``--checkpoint`` takes the newest intact one."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from db import queries
from db.models import RunStatus
from db.session import session_scope
from jobs import api
from tests.conftest import wait_for_status

ROOT = Path(__file__).resolve().parents[2]
FINAL = [RunStatus.completed, RunStatus.failed, RunStatus.cancelled]


def _resume(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine", "resume", *args], cwd=ROOT, env=dict(os.environ),
                          capture_output=True, text=True, timeout=120)


def _failed_run_with_checkpoints():
    """A toy run that saved one checkpoint file per epoch (0-3) and then failed at epoch 4."""
    run = api.submit_run(family="toy", config={"epochs": 6, "fail_at_epoch": 4, "keep_checkpoints": 10})
    done = wait_for_status(run.id, FINAL)
    assert done.status == RunStatus.failed, done.error
    with session_scope() as s:
        ckpts = queries.checkpoints_per_file(session=s, run_id=run.id)
    assert [c.step for c in ckpts] == [0, 1, 2, 3]
    return run, ckpts


def _val_steps(run_id: int) -> list[int]:
    with session_scope() as s:
        return [m.step for m in queries.metric_rows(session=s, run_id=run_id, names=["val/loss"])]


def test_resume_cli_picks_the_given_checkpoint(stack, worker):
    run, ckpts = _failed_run_with_checkpoints()
    chosen = ckpts[1]  # step 1, not the newest (step 3)
    proc = _resume(str(run.id), "--checkpoint", str(chosen.id))
    assert proc.returncode == 0, proc.stderr
    assert f"run {run.id} queued again" in proc.stdout and chosen.path in proc.stdout
    done = wait_for_status(run.id, FINAL)
    assert done.resume_from == chosen.path
    assert done.status == RunStatus.failed and "planted failure at epoch 4" in done.error  # it ran epochs 2-3 again
    assert _val_steps(run.id) == [0, 1, 2, 3]  # steps after the chosen checkpoint were dropped and logged again


def test_resume_cli_refuses_a_foreign_or_changed_checkpoint_and_defaults_to_the_newest(stack, worker):
    run, ckpts = _failed_run_with_checkpoints()
    proc = _resume(str(run.id), "--checkpoint", "987654")
    assert proc.returncode == 2 and f"run {run.id} has no checkpoint with id 987654" in proc.stderr
    Path(ckpts[0].path).write_bytes(b"tampered")
    proc = _resume(str(run.id), "--checkpoint", str(ckpts[0].id))
    assert proc.returncode == 2 and f"checkpoint {ckpts[0].id}" in proc.stderr and "refusing" in proc.stderr
    with session_scope() as s:
        assert queries.get_run(session=s, run_id=run.id).status == RunStatus.failed  # nothing changed
    proc = _resume(str(run.id))
    assert proc.returncode == 0, proc.stderr
    done = wait_for_status(run.id, FINAL)
    assert done.resume_from == ckpts[-1].path
