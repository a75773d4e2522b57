"""The drawings data view, the anomaly launch form and the Analyze page render without a
training library; the form launches one config per age group (``AnomalyConfig.expand``)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from streamlit.testing.v1 import AppTest

from db import queries
from db.session import session_scope
from engine.families.anomaly.config import scope_for_age
from jobs.datasets import generate_sample_job

ROOT = Path(__file__).resolve().parents[2]


def test_drawings_sufficiency_view_counts_groups_and_suggests_merges(stack):
    info = generate_sample_job("drawings", "ui-drawings", {"count": 60, "seed": 2})
    script = f"""
from db import queries
from db.session import session_scope
from engine.families.anomaly.config import scope_for_age
from ui.kinds.drawings import render_sufficiency
with session_scope() as s:
    ds = queries.get_dataset(session=s, dataset_id={info['dataset_id']})
render_sufficiency(ds)
"""
    at = AppTest.from_string(script, default_timeout=60).run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.metric[0].value == "60"
    at.text_input(key=f"drawings-{info['dataset_id']}-groups").set_value("3-4,4-5,5-12").run()
    at.number_input(key=f"drawings-{info['dataset_id']}-min").set_value(10).run()
    assert not at.exception, [e.message for e in at.exception]
    assert any("Age group 3-4 has" in w.value for w in at.warning)
    assert any("Suggestion: merge 3-4 + 4-5" in x.value for x in [*at.info, *at.warning])


def test_launch_form_returns_one_valid_config_per_age_group():
    script = """
import streamlit as st
from engine.families.anomaly.config import AnomalyConfig
from ui.forms.anomaly import render_form
configs = AnomalyConfig.expand(render_form(AnomalyConfig().model_dump(mode="json")))
st.session_state["cfgs"] = [AnomalyConfig(**c).model_dump(mode="json") for c in configs]
"""
    at = AppTest.from_string(script, default_timeout=60).run()
    at.text_input(key="anomaly-form-groups").set_value("3-6, 6-9,9-12").run()
    at.text_input(key="anomaly-form-dims").set_value("64,32").run()
    at.selectbox(key="anomaly-form-optimizer").select("adamw").run()
    assert not at.exception, [e.message for e in at.exception]
    cfgs = at.session_state["cfgs"]
    assert [c["age_group"] for c in cfgs] == ["3-6", "6-9", "9-12"]
    assert all(c["hidden_dims"] == [64, 32] and c["optimizer"] == "adamw" for c in cfgs)


def test_analyze_page_picks_the_model_of_the_drawings_age(stack):
    info = generate_sample_job("drawings", "ui-analyze", {"count": 8, "seed": 3})
    with session_scope() as s:
        run = queries.create_run(session=s, family="anomaly", config={}, dataset_id=info["dataset_id"])
        mv = queries.register_model_version(session=s, run_id=run.id, family="anomaly", artifact_path="x.pt",
                                            scope="2-18", threshold=0.5)
    at = AppTest.from_file(str(ROOT / "pages" / "6_Analyze_Drawing.py"), default_timeout=60).run()
    at.radio[0].set_value("Pick from a dataset").run()
    with session_scope() as s:
        names = [d.name for d in queries.list_datasets(session=s, kind="drawings")]
    at.selectbox[0].select_index(names.index("ui-analyze")).run()
    assert not at.exception, [e.message for e in at.exception]
    age = at.number_input[0].value
    with session_scope() as s:  # other tests may have registered narrower groups; the narrowest wins
        scopes = [m.scope for m in queries.list_model_versions(session=s, family="anomaly", active_only=True)]
        expected = queries.active_model(session=s, family="anomaly", scope=scope_for_age(scopes, age))
    assert expected.id == mv.id or expected.scope != "2-18"
    assert any(f"#{expected.id}** for ages **{expected.scope}**" in m.value for m in at.markdown)
    assert at.button[0].label == "Analyze"


def test_anomaly_ui_modules_stay_light():
    code = ("import sys, json; import ui.kinds.drawings, ui.forms.anomaly, engine.families, "
            "engine.families.anomaly.sufficiency, engine.families.anomaly.cli; "
            "print(json.dumps(sorted(m for m in ('torch', 'transformers', 'torchvision') if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_one_year_age_groups_are_drawn_as_categories_not_dates(stack):
    """Labels such as ``3-4`` and ``11-13`` look like dates to Plotly; every group chart must
    keep them as categories (one bar each)."""
    info = generate_sample_job("drawings", "ui-drawings-years", {"count": 60, "seed": 5})
    script = f"""
from db import queries
from db.session import session_scope
from ui.kinds.drawings import render_sufficiency
with session_scope() as s:
    ds = queries.get_dataset(session=s, dataset_id={info['dataset_id']})
render_sufficiency(ds)
"""
    at = AppTest.from_string(script, default_timeout=60).run()
    groups = "3-4,4-5,5-6,6-7,7-8,8-9,9-10,10-11,11-13"
    at.text_input(key=f"drawings-{info['dataset_id']}-groups").set_value(groups).run()
    assert not at.exception, [e.message for e in at.exception]
    specs = [json.loads(el.proto.spec) for el in at.get("plotly_chart")]
    by_group = [sp for sp in specs if any(tr.get("x") is not None and "3-4" in list(tr.get("x"))
                                          for tr in sp["data"])]
    assert len(by_group) >= 3, [sp["layout"].get("title") for sp in specs]
    for sp in by_group:
        assert sp["layout"]["xaxis"]["type"] == "category", sp["layout"].get("title")
        drawn = {x for tr in sp["data"] for x in tr.get("x", [])}
        assert {"3-4", "11-13"} <= drawn
