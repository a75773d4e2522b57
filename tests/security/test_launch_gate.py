"""``submit_run`` itself enforces the family's data sufficiency gate; ``override=True`` goes on."""
from __future__ import annotations

import pytest

from db import queries
from db.models import RunStatus
from db.session import session_scope
from engine.core import LaunchBlocked
from jobs import api
from jobs.datasets import generate_sample_job
from tests.fixtures.yolo_data import TINY


def test_submit_refuses_a_blocked_launch_and_accepts_it_with_override(stack):
    dataset_id = generate_sample_job("yolo", "gate-detect", {"task": "detect", "count": 12, "size": 32})["dataset_id"]
    config = {**TINY, "min_per_class": 100}
    with session_scope() as s:
        n_runs = len(queries.list_runs(session=s))
    depths = api.queue_depths()
    with pytest.raises(LaunchBlocked) as err:
        api.submit_run(family="yolo", config=config, dataset_id=dataset_id)
    assert err.value.reasons and all("below min_per_class=100" in r for r in err.value.reasons)
    assert "override" in str(err.value)
    with pytest.raises(LaunchBlocked, match="cannot train task 'classify'"):
        api.submit_run(family="yolo", config={**config, "task": "classify"}, dataset_id=dataset_id)
    with session_scope() as s:
        assert len(queries.list_runs(session=s)) == n_runs  # nothing stored
    assert api.queue_depths() == depths  # nothing queued

    run = api.submit_run(family="yolo", config=config, dataset_id=dataset_id, override=True)
    assert run.status == RunStatus.pending and run.job_id
    assert api.cancel_run(run.id) == RunStatus.cancelled  # it was only here to be accepted
