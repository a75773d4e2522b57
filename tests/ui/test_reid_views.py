"""The reid data view, launch form and Try Model view render; none imports a training library."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from streamlit.testing.v1 import AppTest

from jobs.datasets import generate_sample_job, import_dataset

ROOT = Path(__file__).resolve().parents[2]


def test_sufficiency_view_shows_identities_and_the_overlap_warning(stack):
    info = generate_sample_job("market1501", "ui-reid", {"identities": 12, "images_per_identity": 3})
    root = stack / "data" / "ui-reid"
    img = sorted((root / "bounding_box_train").glob("*.jpg"))[0]
    shutil.copy(img, root / "bounding_box_test" / img.name)
    import_dataset(name="ui-reid", kind="market1501", root=root, replace=True)
    script = f"""
from db import queries
from db.session import session_scope
from ui.kinds.market1501 import render_sufficiency
with session_scope() as s:
    ds = queries.get_dataset(session=s, dataset_id={info['dataset_id']})
render_sufficiency(ds)
"""
    at = AppTest.from_string(script, default_timeout=60).run()
    assert not at.exception, [e.message for e in at.exception]
    assert [m.value for m in at.metric][:2] == ["6", "7"]
    assert any("appear in both train and test" in w.value and img.name[:4] in w.value for w in at.warning)
    assert any("6 train identities; at least 10" in w.value for w in at.warning)


def test_launch_form_returns_a_valid_config():
    script = """
import streamlit as st
from engine.families.reid.config import ReidConfig
from ui.forms.reid import render_form
values = render_form(ReidConfig().model_dump(mode="json"))
st.session_state["cfg"] = ReidConfig(**values).model_dump(mode="json")
"""
    at = AppTest.from_string(script, default_timeout=60).run()
    at.selectbox(key="reid-form-model").select("osnet_x0_25").run()
    at.selectbox(key="reid-form-loss").select("triplet").run()
    at.number_input(key="reid-form-epochs").set_value(7).run()
    assert not at.exception, [e.message for e in at.exception]
    cfg = at.session_state["cfg"]
    assert (cfg["model"], cfg["loss"], cfg["epochs"], cfg["weights"], cfg["init_version"]) == \
        ("osnet_x0_25", "triplet", 7, None, None)


def test_reid_ui_modules_stay_light():
    code = ("import sys, json; import ui.kinds.market1501, ui.forms.reid, ui.tryout.reid, engine.families, "
            "engine.families.reid.sufficiency; "
            "print(json.dumps(sorted(m for m in ('torch', 'torchreid', 'torchvision') if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
