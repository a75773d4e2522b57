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


def test_launch_page_blocks_until_the_override_box_is_ticked(stack):
    from pathlib import Path

    import yaml
    from streamlit.testing.v1 import AppTest

    root = Path(__file__).resolve().parents[2]
    generate_sample_job("yolo", "gate-page", {"task": "detect", "count": 12, "size": 32})
    at = AppTest.from_file(str(root / "Home.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/2_Launch_Training.py")
    at.run()
    at.selectbox[0].set_value("yolo")
    at.run()
    datasets = at.selectbox[1]
    datasets.select_index(next(i for i, o in enumerate(datasets.options) if o.startswith("gate-page ")))
    at.run()
    at.text_area(key="yaml-yolo").set_value(yaml.safe_dump({**TINY, "min_per_class": 100}))
    at.button(key="launch-yaml").click()
    at.run()
    assert not at.exception
    assert any("Not enough data" in e.value for e in at.error)
    assert not at.success

    at.checkbox(key="override").check()
    at.button(key="launch-yaml").click()
    at.run()
    assert not at.exception
    assert any("Queued 1 run" in m.value for m in at.success)
    with session_scope() as s:
        run = queries.list_runs(session=s, family="yolo")[0]
    assert run.config["min_per_class"] == 100
    api.cancel_run(run.id)
