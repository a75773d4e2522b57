"""The transitions data view, the generic launch form and the Try Model view of the transition
family render under AppTest without a training library."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from streamlit.testing.v1 import AppTest

from jobs.datasets import generate_sample_job

ROOT = Path(__file__).resolve().parents[2]


def test_transitions_sufficiency_view_shows_patients_and_split(stack):
    info = generate_sample_job("transitions", "ui-transitions", {"groups": 4, "per_group": 3, "seed": 2})
    script = f"""
from db import queries
from db.session import session_scope
from ui.kinds.transitions import render_sufficiency
with session_scope() as s:
    ds = queries.get_dataset(session=s, dataset_id={info['dataset_id']})
render_sufficiency(ds)
"""
    at = AppTest.from_string(script, default_timeout=60).run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.metric[0].value == "4" and at.metric[1].value == "12"
    assert at.metric[2].value == "4"  # three transitions each, below the default minimum of 5
    assert any("split 2/1/1" in w.value for w in at.warning)
    assert any("Automatic split" in c.value for c in at.caption)


def test_results_view_draws_per_axis_errors_and_the_split():
    script = """
from ui.tryout.transition import render_summary
render_summary({"test/mae_x": 1.0, "test/mae_y": 1.5, "test/mae_z": 2.0, "test/mae_roll": 3.0,
                "test/mae_pitch": 4.0, "test/mae_yaw": 4.5, "split": {"train": ["a"], "val": ["b"], "test": ["c"]}})
"""
    at = AppTest.from_string(script, default_timeout=60).run()
    assert not at.exception, [e.message for e in at.exception]
    chart = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert list(chart["data"][0]["x"]) == ["x", "y", "z", "roll", "pitch", "yaw"]
    assert any("test: c" in c.value for c in at.caption)


def test_transition_ui_modules_stay_light():
    code = ("import sys, json; import ui.kinds.transitions, ui.tryout.transition, engine.families, "
            "engine.families.transition.sufficiency, engine.families.transition.data; "
            "print(json.dumps(sorted(m for m in ('torch', 'lightning', 'transformers') if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_results_view_lists_every_test_patient_with_a_categorical_chart():
    script = """
from ui.tryout.transition import render_summary
render_summary({"test/mae_x": 1.0, "per_patient": [
    {"patient": "0513_01", "transitions": 4, "mae_mean": 1.5, "mae_x": 1.0},
    {"patient": "0513_02", "transitions": 3, "mae_mean": 2.5, "mae_x": 2.0},
    {"patient": "07", "transitions": 2, "mae_mean": 0.5, "mae_x": 0.4}]})
"""
    at = AppTest.from_string(script, default_timeout=60).run()
    assert not at.exception, [e.message for e in at.exception]
    table = at.dataframe[0].value
    assert list(table["patient"]) == ["0513_01", "0513_02", "07"]
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    per_patient = next(c for c in charts if "patient" in c["layout"]["title"]["text"])
    assert per_patient["layout"]["xaxis"]["type"] == "category"  # "07" stays a name, not the number 7


def test_launch_form_picks_manual_patient_lists_from_the_dataset(stack):
    info = generate_sample_job("transitions", "ui-transition-form", {"groups": 4, "per_group": 3, "seed": 3})
    script = f"""
from db import queries
from db.session import session_scope
from engine.configs import default_config
from engine.families import FAMILIES
from ui.forms.transition import render_form
with session_scope() as s:
    ds = queries.get_dataset(session=s, dataset_id={info['dataset_id']})
import streamlit as st
st.session_state["data"] = render_form(default_config(FAMILIES["transition"]), dataset=ds)
"""
    at = AppTest.from_string(script, default_timeout=60).run()
    at.checkbox(key="transition-form-manual_splits").check().run()
    picker = at.multiselect(key="transition-form-train_patients")
    assert len(picker.options) == 4
    names = list(picker.options)
    picker.set_value(names[:2]).run()
    at.multiselect(key="transition-form-val_patients").set_value(names[2:3]).run()
    at.multiselect(key="transition-form-test_patients").set_value(names[3:]).run()
    assert not at.exception, [e.message for e in at.exception]
    data = at.session_state["data"]
    from engine.configs import validate_config
    from engine.families import FAMILIES

    config = validate_config(FAMILIES["transition"], data)
    assert config.manual_splits and config.train_patients == names[:2] and config.test_patients == names[3:]
