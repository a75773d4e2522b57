"""The catalog on the pages: the Launch form offers the family's catalogued base models with
"from scratch" as one option, the production choice is the default once the catalog holds it
(and the YAML carries its real loading name); a run that trains from scratch or on tiny-vit demo
features says so on the Launch page and on its Progress page; the Models page lists the catalog;
the Progress page picks which checkpoint to resume from, newest first."""
from __future__ import annotations

import pytest
import yaml

from db import queries
from db.models import RunStatus
from db.session import session_scope
from jobs.catalog import add_file
from settings import get_settings
from tests.pages.test_launch_page import _launch_page
from tests.pages.test_progress_curves import _open


def _infos(at) -> list[str]:
    return [i.value for i in at.info]


@pytest.fixture
def catalogued_yolo11n(stack, tmp_path):
    """``yolo11n.pt`` in the catalog (bytes that are never loaded here); removed afterwards so no
    other test's launch defaults to it."""
    src = tmp_path / "yolo11n.pt"
    src.write_bytes(b"not really weights: the page only lists it")
    entry = add_file(src)
    yield entry
    with session_scope() as s:
        queries.delete_catalog_entry(session=s, name="yolo11n.pt")
    (get_settings().resolved_models_dir / "yolo11n.pt").unlink()


def test_launch_form_says_from_scratch_until_the_catalog_holds_the_production_choice(stack, catalogued_yolo11n):
    # the fixture has added yolo11n.pt: it is the default for detect, classify has no catalogued weights
    at = _launch_page("yolo")
    choice = at.selectbox(key="yolo-form-model-detect")
    assert choice.value == "yolo11n.pt"
    assert choice.options[0] == "from scratch (yolo11n yaml)" and "yolo11n.pt (production choice)" in choice.options
    assert yaml.safe_load(at.text_area(key="yaml-yolo").value)["model"] == "yolo11n.pt"  # the real loading name
    assert not any("Trains from scratch" in i for i in _infos(at))
    choice.set_value("")  # from scratch
    at.run()
    assert any("Trains from scratch" in i for i in _infos(at))
    at.selectbox(key="yolo-form-task").set_value("classify")
    at.run()
    assert at.selectbox(key="yolo-form-model-classify").value == ""  # from scratch: yolo11n.pt is a detect model


def test_anomaly_launch_says_tiny_vit_is_demo_features(stack):
    at = _launch_page("anomaly")
    assert at.selectbox(key="anomaly-form-backbone-all").value == "tiny-vit"
    assert any("Demo features" in i and "randomly initialised" in i for i in _infos(at))


def test_progress_says_a_run_trains_from_scratch_and_picks_the_checkpoint_to_resume(stack, tmp_path):
    with session_scope() as s:
        run = queries.create_run(session=s, family="yolo", config={"task": "detect"}, name="scratch")
        for step in (0, 1, 2):
            queries.add_checkpoint(session=s, run_id=run.id, step=step, path=str(tmp_path / f"e{step}.pt"),
                                   sha256="0" * 64)
        queries.set_run_status(session=s, run_id=run.id, status=RunStatus.cancelled)
    at = _open(run.id)
    assert any("Trains from scratch" in i for i in _infos(at))
    picker = at.selectbox(key=f"resume-pick-{run.id}")
    assert [o.split(" · ")[0].split()[-1] for o in picker.options] == ["2", "1", "0"]  # newest first
    assert picker.index == 0 and picker.value.step == 2  # the newest is the default
    assert "Resume from checkpoint" in [b.label for b in at.button]


def test_models_page_lists_the_catalog(stack, catalogued_yolo11n):
    from streamlit.testing.v1 import AppTest

    from tests.pages.test_pages import ROOT

    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/8_Models.py")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    table = next(df.value for df in at.dataframe if "format" in df.value.columns)
    row = table[table["name"] == "yolo11n.pt"].iloc[0]
    assert row["family"] == "yolo" and row["task"] == "detect" and row["sha256"] == catalogued_yolo11n.sha256[:12]
    at.button(key="catalog-verify").click()
    at.run()
    table = next(df.value for df in at.dataframe if "format" in df.value.columns)
    assert table[table["name"] == "yolo11n.pt"].iloc[0]["check"] == "sha256 ✓"
