"""Resume loads only a checkpoint whose file still has the sha256 registered for it, and a kill
between writing a checkpoint and registering it never makes a resumed run skip a step."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from db import queries
from db.models import RunStatus
from db.session import session_scope
from jobs import api
from jobs.queues import fetch_job
from tests.conftest import wait_for_status

ENDED = [RunStatus.completed, RunStatus.failed, RunStatus.cancelled]


def _steps(run_id: int) -> list[int]:
    with session_scope() as s:
        return [m.step for m in queries.metric_rows(session=s, run_id=run_id, names=["val/loss"])]


def _checkpoints(run_id: int):
    with session_scope() as s:
        return queries.list_checkpoints(session=s, run_id=run_id)


def _tamper(path: str | Path) -> None:
    with open(path, "ab") as fh:
        fh.write(b"\0swapped")


def test_resume_skips_checkpoints_changed_on_disk_and_refuses_when_none_verifies(stack, worker):
    run = api.submit_run(family="toy", config={"epochs": 5, "fail_at_epoch": 3, "keep_checkpoints": 3})
    assert wait_for_status(run.id, ENDED).status == RunStatus.failed
    ckpts = _checkpoints(run.id)
    assert [c.step for c in ckpts] == [0, 1, 2] and len({c.path for c in ckpts}) == 3
    _tamper(ckpts[-1].path)
    resumed = api.resume_run(run.id)
    assert resumed.resume_from == ckpts[1].path  # the newest one whose file verifies
    assert _steps(run.id) == [0, 1]  # what follows the checkpoint is trained (and logged) again
    done = wait_for_status(run.id, ENDED)
    assert "planted failure at epoch 3" in done.error
    assert _steps(run.id) == [0, 1, 2]

    ckpts = _checkpoints(run.id)
    for path in {c.path for c in ckpts}:
        if Path(path).is_file():
            _tamper(path)
    with pytest.raises(ValueError, match=f"none of its {len(ckpts)} checkpoint file.* sha256 registered"):
        api.resume_run(run.id)
    with session_scope() as s:
        assert queries.get_run(session=s, run_id=run.id).status == RunStatus.failed  # nothing was queued


def test_the_worker_refuses_a_checkpoint_swapped_after_resume_chose_it(stack, tmp_path):
    """The job verifies again right before loading: the file may change while the run is queued."""
    from engine.checkpoints import save_checkpoint, sha256_file
    from jobs.tasks import execute_run

    path = save_checkpoint(tmp_path / "last.pt", {"epoch": 0})
    with session_scope() as s:
        run = queries.create_run(session=s, family="toy", config={"epochs": 2})
        queries.add_checkpoint(session=s, run_id=run.id, step=0, path=str(path), sha256=sha256_file(path))
        queries.set_run_status(session=s, run_id=run.id, status=RunStatus.pending, resume_from=str(path),
                               out_dir=str(tmp_path))
    _tamper(path)
    assert execute_run(run.id, capture=False) == "failed"
    with session_scope() as s:
        error = queries.get_run(session=s, run_id=run.id).error
    assert "changed on disk since run" in error and "refusing to resume" in error
    assert _steps(run.id) == []


def _wait_for_killed_job(run_id: int, timeout: float = 60.0) -> None:
    """The training process died (SIGKILL); its work horse records the run failed as lost,
    and the job ends, so the run can resume."""
    done = wait_for_status(run_id, [RunStatus.failed, RunStatus.completed], timeout=timeout)
    assert done.status == RunStatus.failed and "killed by signal 9" in done.error, done.error
    with session_scope() as s:
        job_id = queries.get_run(session=s, run_id=run_id).job_id
    deadline = time.monotonic() + timeout
    while fetch_job(job_id).get_status(refresh=True) not in ("finished", "failed"):
        assert time.monotonic() < deadline, "the killed run's job never ended"
        time.sleep(0.2)


def test_a_kill_between_writing_and_registering_a_checkpoint_skips_no_step(stack, worker):
    run = api.submit_run(family="toy", config={"epochs": 4, "keep_checkpoints": 2, "kill_after_save_at_epoch": 2})
    _wait_for_killed_job(run.id)
    ckpts = _checkpoints(run.id)
    assert [c.step for c in ckpts] == [0, 1]
    assert Path(ckpts[-1].path).with_name("last-step000002.pt").is_file()  # written, never registered
    resumed = api.resume_run(run.id)
    assert resumed.resume_from == ckpts[-1].path
    done = wait_for_status(run.id, ENDED)
    assert done.status == RunStatus.completed, done.error
    assert _steps(run.id) == [0, 1, 2, 3]


def test_a_kill_after_rewriting_the_only_checkpoint_file_refuses_to_resume(stack, worker):
    """A family that rewrites one file: its registered digest is stale after the kill, and
    loading it anyway would continue after a step whose metrics are gone."""
    run = api.submit_run(family="toy", config={"epochs": 4, "kill_after_save_at_epoch": 2})
    _wait_for_killed_job(run.id)
    assert [c.step for c in _checkpoints(run.id)] == [0, 1]
    with pytest.raises(ValueError, match="sha256"):
        api.resume_run(run.id)
