"""The logos data view, the ppo launch form and the results view render under AppTest, and
none of the ppo UI modules imports a training library."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from streamlit.testing.v1 import AppTest

from engine.families.ppo.samples import generate
from jobs.datasets import import_dataset
from settings import get_settings

ROOT = Path(__file__).resolve().parents[2]


def test_logos_sufficiency_view_counts_categories_and_lists_unusable_images(stack):
    root = generate(get_settings().resolved_data_root / "ui-logos", count=3, size=32)
    dataset, _ = import_dataset(name="ui-logos", kind="logos", root=root, replace=True)
    script = f"""
from db import queries
from db.session import session_scope
from ui.kinds.logos import render_sufficiency
with session_scope() as s:
    ds = queries.get_dataset(session=s, dataset_id={dataset.id})
render_sufficiency(ds)
"""
    at = AppTest.from_string(script, default_timeout=60).run()
    assert not at.exception, [e.message for e in at.exception]
    assert [m.value for m in at.metric] == ["13", "12", "1", "4"]
    assert sum("below 20" in w.value for w in at.warning) == 4
    at.number_input(key=f"logos-{dataset.id}-min").set_value(3).run()
    assert not any("below" in w.value for w in at.warning)
    assert "blank_flat.png" in at.dataframe[0].value.to_string()


def test_launch_form_returns_a_valid_config():
    script = """
import streamlit as st
from engine.families.ppo.config import PpoConfig
from ui.forms.ppo import render_form
values = render_form(PpoConfig().model_dump(mode="json"))
st.session_state["cfg"] = PpoConfig(**values).model_dump(mode="json")
"""
    at = AppTest.from_string(script, default_timeout=60).run()
    at.number_input(key="ppo-form-total_timesteps").set_value(2048).run()
    at.slider(key="ppo-form-target_gradient").set_value(0.9).run()
    at.multiselect(key="ppo-form-order").set_value(["simple", "gradient"]).run()
    assert not at.exception, [e.message for e in at.exception]
    cfg = at.session_state["cfg"]
    assert cfg["total_timesteps"] == 2048 and cfg["target_gradient"] == 0.9
    assert cfg["curriculum_order"] == ["simple", "gradient"]


def test_results_view_compares_agent_and_defaults_per_category():
    script = """
from types import SimpleNamespace
from ui.tryout.ppo import render_results
summary = {"test/ssim": 0.9, "test/default_ssim": 0.8, "test/success_rate": 0.75,
           "test/categories_matching_defaults": 3.0}
for cat, a, d in (("simple", 0.95, 0.96), ("text", 0.9, 0.8), ("gradient", 0.92, 0.7), ("complex", 0.85, 0.74)):
    summary.update({f"test/{cat}/ssim": a, f"test/{cat}/default_ssim": d, f"test/{cat}/success_rate": 1.0})
render_results(SimpleNamespace(id=1, summary=summary))
"""
    at = AppTest.from_string(script, default_timeout=60).run()
    assert not at.exception, [e.message for e in at.exception]
    assert [m.value for m in at.metric] == ["0.900", "75%", "3 of 4"]
    table = at.dataframe[0].value
    assert list(table["category"]) == ["simple", "text", "gradient", "complex"]
    assert round(float(table.loc[table.category == "gradient", "gain"].iloc[0]), 2) == 0.22


def test_ppo_ui_modules_stay_light():
    code = ("import sys, json; import ui.kinds.logos, ui.forms.ppo, ui.tryout.ppo, engine.families, "
            "engine.families.ppo.sufficiency; print(json.dumps(sorted(m for m in ('torch', 'stable_baselines3', "
            "'gymnasium', 'vtracer', 'resvg_py', 'skimage') if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
