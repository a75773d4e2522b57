"""Data Sufficiency under AppTest, opened through Home: *Generate sample data* confirms after the
page's rerun and opens the Dataset selector on the new dataset."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from db import queries
from db.session import session_scope

ROOT = Path(__file__).resolve().parents[2]


def test_generate_sample_data_confirms_and_selects_the_new_dataset(stack, worker):
    with session_scope() as s:  # another dataset listed first, so selecting the new one is a real change
        queries.get_dataset_by_name(session=s, name="aaa-first") or queries.create_dataset(
            session=s, name="aaa-first", kind="toy", root=str(stack), summary={"samples": 0})
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/1_Data_Sufficiency.py")
    at.run()
    next(sb for sb in at.selectbox if sb.label == "Kind").set_value("logos")
    at.run()
    before = at.selectbox(key="sufficiency-dataset").value
    next(b for b in at.button if b.label == "Generate sample data").click()
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    with session_scope() as s:
        ds = queries.get_dataset_by_name(session=s, name="sample-logos")
    assert ds is not None
    assert any("Generated dataset 'sample-logos'" in m.value for m in at.success), [m.value for m in at.success]
    assert before != ds.id and at.selectbox(key="sufficiency-dataset").value == ds.id
    assert any(m.value == "logos" for m in at.metric)  # the page shows the new dataset
    at.run()  # the confirmation was for that one rerun; the selection stays
    assert not any("Generated dataset" in m.value for m in at.success)
    assert at.selectbox(key="sufficiency-dataset").value == ds.id
