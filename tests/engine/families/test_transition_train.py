"""The whole transition path on generated patients: import on a worker, a tiny CNN + transformer
trained through the queue on Lightning, a learning assertion, exactly top-3 + last + final
checkpoints, per-patient split stored, test per-axis errors, cancel and resume without duplicate
or missing epochs, prediction on the scoring lane and the offline CLI."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from db import queries
from db.models import RunStatus
from db.session import session_scope
from engine.families.transition.config import AXES
from jobs import api
from settings import get_settings
from tests.conftest import wait_for_status

TINY = {"d_model": 32, "num_heads": 4, "num_layers": 1, "cnn_channels": 16, "batch_size": 16, "lr": 1e-3,
        "early_stop_patience": 0, "scheduler": "cosine"}
EPOCHS = 10
ENDED = [RunStatus.completed, RunStatus.failed, RunStatus.cancelled]


@pytest.fixture(scope="module")
def dataset(stack, worker):
    info = api.generate_sample_dataset("transitions", name="transitions-e2e", groups=8, per_group=40, seed=1,
                                       timeout_s=120)
    assert info["samples"] == 320 and not info["problems"]
    return info["dataset_id"]


@pytest.fixture(scope="module")
def trained(dataset):
    run = api.submit_run(family="transition", config={**TINY, "max_epochs": EPOCHS}, dataset_id=dataset)
    done = wait_for_status(run.id, ENDED, timeout=300)
    assert done.status == RunStatus.completed, done.error
    return done


def _val_losses(run_id: int) -> list[tuple[int, float]]:
    with session_scope() as s:
        rows = queries.metric_rows(session=s, run_id=run_id, names=["val/main_task_loss"])
    return sorted((m.step, m.value) for m in rows)


def test_val_main_task_loss_learns(trained):
    losses = _val_losses(trained.id)
    assert [s for s, _ in losses] == list(range(EPOCHS))
    first, best = losses[0][1], min(v for _, v in losses)
    print("val main-task loss per epoch:", [round(v, 3) for _, v in losses])
    assert best <= 0.85 * first, losses
    m = trained.summary
    assert m["val/main_task_loss"] == pytest.approx(best, rel=1e-4)
