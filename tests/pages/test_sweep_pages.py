"""The sweep view and the Launch page's sweep mode under AppTest, against a real database."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from db import queries
from db.models import RunStatus
from db.session import session_scope
from engine.configs import ConfigError, default_config
from engine.families import FAMILIES
from engine.sweeps import parse_sweep_yaml, validate_sweep

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def seeded_sweep(stack):
    with session_scope() as s:
        sweep = queries.create_sweep(session=s, name="lr search", family="toy", method="random", metric="val/loss",
                                     direction="minimize", max_trials=4, parallel=2, pruner="median",
                                     space={"method": "random", "space": {"lr": {"log_range": [0.01, 0.5]},
                                                                           "batches": [2, 3]}, "base": {}})
        for n, (lr, batches, loss, status) in enumerate([(0.02, 2, 0.5, RunStatus.completed),
                                                         (0.2, 3, 0.1, RunStatus.completed),
                                                         (0.01, 2, None, RunStatus.pruned),
                                                         (0.3, 3, None, RunStatus.training)]):
            run = queries.create_run(session=s, family="toy", config={"lr": lr, "batches": batches},
                                     sweep_id=sweep.id, name=f"trial {n}")
            run.trial_number = n
            queries.set_run_status(session=s, run_id=run.id, status=status,
                                   summary={"val/loss": loss} if loss is not None else {})
    return sweep.id


def _open(page: str, **params) -> AppTest:
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=60)
    at.run()
    at.switch_page(page)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    return at


def test_sweep_view_shows_progress_best_trial_and_charts(seeded_sweep):
    at = _open("pages/9_Sweeps.py", sweep=str(seeded_sweep))
    assert not at.exception, [e.message for e in at.exception]
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["trials"] == "4 / 4" and tiles["done"] == "2" and tiles["pruned"] == "1" and tiles["running"] == "1"
    assert any("Best so far: trial 1" in s.value for s in at.success)
    assert len(at.get("plotly_chart")) == 2  # metric by trial, parallel coordinates
    assert at.dataframe[0].value.shape[0] == 4


def test_launch_page_sweep_mode_validates_before_queueing(stack):
    at = _open("pages/2_Launch_Training.py")
    at.selectbox[0].select("toy").run()
    at.get("button_group")[0].set_value("Sweep").run()
    assert not at.exception, [e.message for e in at.exception]
    with session_scope() as s:
        before = len(queries.list_sweeps(session=s))
    at.text_area[0].input("method: random\nspace:\n  lr: {range: [-1, 0.5]}\n")
    next(b for b in at.button if b.key == "sweep-yaml").click().run()
    assert any("Nothing was queued" in e.value for e in at.error)
    assert any("space.lr" in m.value for m in at.markdown)
    with session_scope() as s:
        assert len(queries.list_sweeps(session=s)) == before


@pytest.mark.parametrize("path", sorted((ROOT / "configs" / "sweeps").glob("*.yaml")), ids=lambda p: p.stem)
def test_example_sweep_files_validate_against_their_family(path):
    family = FAMILIES[path.stem]
    spec = parse_sweep_yaml(path.read_text())
    assert validate_sweep(family, spec, default_config(family))
