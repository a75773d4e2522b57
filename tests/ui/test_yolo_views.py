"""The yolo data view, launch form and Try Model page render, and none imports a training library."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from streamlit.testing.v1 import AppTest

from jobs.datasets import generate_sample_job

ROOT = Path(__file__).resolve().parents[2]


def test_sufficiency_view_shows_counts_and_warnings(stack):
    info = generate_sample_job("yolo", "ui-yolo-detect", {"task": "detect", "count": 20, "size": 64})
    script = f"""
from db import queries
from db.session import session_scope
from ui.kinds.yolo import render_sufficiency
with session_scope() as s:
    ds = queries.get_dataset(session=s, dataset_id={info['dataset_id']})
render_sufficiency(ds)
"""
    at = AppTest.from_string(script, default_timeout=60).run()
    assert not at.exception, [e.message for e in at.exception]
    assert [m.value for m in at.metric][:2] == ["detect", "3"]
    assert sum("at least 100 are recommended" in w.value for w in at.warning) == 3


def test_launch_form_returns_a_valid_config():
    script = """
import streamlit as st
from engine.families.yolo.config import YoloConfig
from ui.forms.yolo import render_form
values = render_form(YoloConfig().model_dump(mode="json"))
st.session_state["cfg"] = YoloConfig(**values).model_dump(mode="json")
"""
    at = AppTest.from_string(script, default_timeout=60).run()
    at.selectbox(key="yolo-form-task").select("segment").run()
    at.number_input(key="yolo-form-epochs").set_value(7).run()
    assert not at.exception, [e.message for e in at.exception]
    cfg = at.session_state["cfg"]
    assert cfg["task"] == "segment" and cfg["epochs"] == 7 and cfg["model"] is None


def test_yolo_ui_modules_stay_light():
    code = ("import sys, json; import ui.kinds.yolo, ui.forms.yolo, engine.families, engine.families.yolo.sufficiency; "
            "print(json.dumps(sorted(m for m in ('torch', 'ultralytics', 'torchvision') if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
