"""The Progress page draws long runs from database buckets: bounded points, extremes kept,
and the run's state and buttons inside the refreshing part."""
from __future__ import annotations

import base64
import json

import numpy as np
from streamlit.testing.v1 import AppTest

from db import queries
from db.models import RunStatus
from db.session import session_scope
from tests.pages.test_pages import ROOT


def _array(a) -> np.ndarray:
    """A plotly JSON array: a list or a typed array ``{"dtype", "bdata"}``."""
    if isinstance(a, dict):
        return np.frombuffer(base64.b64decode(a["bdata"]), dtype=a["dtype"])
    return np.asarray(a, dtype=float)


def _open(run_id: int) -> AppTest:
    """Through the Home entrypoint, as a browser does, so the page's links resolve."""
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/3_Progress.py")
    at.query_params["run"] = str(run_id)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_a_long_run_is_drawn_with_bounded_points_and_its_spikes(stack):
    with session_scope() as s:
        run = queries.create_run(session=s, family="toy", config={}, name="long")
        queries.add_metrics(session=s, rows=[{"run_id": run.id, "step": st, "name": n,
                                              "value": 99.0 if st == 4321 else 1.0 / (1 + st)}
                                             for st in range(6000) for n in ("train/loss", "val/loss")])
        queries.set_run_status(session=s, run_id=run.id, status=RunStatus.failed, error="ValueError: planted")
    at = _open(run.id)
    traces = [t for c in at.get("plotly_chart") for t in json.loads(c.proto.spec)["data"]
              if t.get("name") in ("train", "val")]
    assert {t["name"] for t in traces} == {"train", "val"}
    for t in traces:
        ys = _array(t["y"])
        assert len(ys) <= 2000 and len(_array(t["x"])) == len(ys)
        assert ys.max() == 99.0  # the one-step spike survives downsampling
    assert any("planted" in e.value for e in at.error)
    labels = [b.label for b in at.button]
    assert "Cancel" not in labels and "Resume from checkpoint" not in labels  # no checkpoint: no resume
    assert "Retry from scratch" in labels


def test_resume_is_offered_once_a_checkpoint_exists(stack):
    with session_scope() as s:
        run = queries.create_run(session=s, family="toy", config={}, name="resumable")
        queries.add_checkpoint(session=s, run_id=run.id, step=0, path=str(stack / "r.pt"), sha256="0" * 64)
        queries.set_run_status(session=s, run_id=run.id, status=RunStatus.cancelled)
    labels = [b.label for b in _open(run.id).button]
    assert "Resume from checkpoint" in labels and "Cancel" not in labels
