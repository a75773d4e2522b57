"""The Try Model page is family-generic: with an active model version seeded for every registered
family, each family can be picked, shows its headline metrics as tiles, and hands over to its own
try-out view (``ui/tryout/<family>.py``) where one exists."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from db import queries
from db.models import RunStatus
from db.session import session_scope
from engine.families import FAMILIES
from ui import optional_module

ROOT = Path(__file__).resolve().parents[2]
PAGE = "pages/7_Try_Model.py"


def _metrics(key: str) -> dict[str, float]:
    """A distinct value per headline of the family (its first task's headlines)."""
    family = FAMILIES[key]
    task = family.tasks[0] if family.tasks else None
    return {h.name: round(0.123 + 0.111 * i, 3) for i, h in enumerate(family.headlines_for(task))}


@pytest.fixture(scope="module")
def seeded_models(stack):
    """One active model version per registered family (first task, scope = task or none)."""
    ids = {}
    with session_scope() as s:
        for key, family in FAMILIES.items():
            task = family.tasks[0] if family.tasks else None
            run = queries.create_run(session=s, family=key, config={}, name=f"try-{key}")
            queries.set_run_status(session=s, run_id=run.id, status=RunStatus.completed)
            mv = queries.register_model_version(session=s, run_id=run.id, family=key, task=task, scope=task or "",
                                                artifact_path=str(stack / f"{key}.pt"),
                                                metrics={**_metrics(key), "note": "not a number"})
            ids[key] = mv.id
    return ids


def _open(**params) -> AppTest:
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=60)
    at.run()
    at.switch_page(PAGE)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    return at


def test_families_with_an_active_model_are_offered_in_registry_order(seeded_models):
    at = _open()
    assert not at.exception, [e.message for e in at.exception]
    with session_scope() as s:
        active = {m.family for m in queries.list_model_versions(session=s, active_only=True)}
    options = at.selectbox(key="try-family").options
    assert [o.split(" — ")[0] for o in options] == [k for k in FAMILIES if k in active]
    assert set(seeded_models) <= active


@pytest.mark.parametrize("key", list(FAMILIES))
def test_each_family_shows_headline_tiles_and_its_own_view(seeded_models, key):
    at = _open(family=key)
    assert not at.exception, [e.message for e in at.exception]
    assert at.selectbox(key="try-family").value == key
    model = at.selectbox(key=f"try-model-{key}").value
    assert model.family == key and model.id == seeded_models[key]
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["model version"] == f"#{model.id}"
    task = model.task
    for h in FAMILIES[key].headlines_for(task):
        assert tiles[h.label or h.name] == f"{_metrics(key)[h.name]:.4g}", (h, tiles)
    view = optional_module(f"ui.tryout.{key}")
    missing = [i.value for i in at.info if "no try-out view" in i.value]
    assert bool(missing) == (view is None), missing


def test_family_views_render_their_inputs(seeded_models):
    at = _open(family="yolo")
    assert at.selectbox(key="try-model-yolo").value.task == "classify"
    assert [s.label for s in at.slider] == ["Confidence threshold"] and at.slider[0].disabled  # no boxes to threshold
    at = _open(family="transition")
    assert at.text_input(key="transition-true").label.startswith("True action")
    assert len(at.get("file_uploader")) == 2
    at = _open(family="anomaly")
    assert any("Analyze Drawing" in i.value for i in at.info)


def test_switching_family_switches_the_view(seeded_models):
    at = _open(family="transition")
    at.selectbox(key="try-family").set_value("yolo").run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.selectbox(key="try-model-yolo").value.id == seeded_models["yolo"]
    assert len(at.get("file_uploader")) == 1 and at.slider[0].label == "Confidence threshold"
