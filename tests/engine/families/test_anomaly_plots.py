"""Anomaly runs write their errors as files: ``errors.json`` (what the Progress page draws) and a
histogram per split with the threshold, the ROC curve beside it when labelled anomalies exist."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from engine.families.anomaly.metrics import auroc
from engine.families.anomaly.plots import ERRORS_FILE, PLOT_FILE, write_error_plots
from ui.tryout.anomaly import error_figures


def test_errors_histogram_and_roc_are_written_and_drawn(tmp_path):
    rng = np.random.default_rng(0)
    errors = {"val": rng.random(40), "test": rng.random(20), "anomalous": rng.random(12) + 0.6}
    written = write_error_plots(tmp_path, errors, 0.95, group="3-6")
    assert [p.name for p in written] == [ERRORS_FILE, PLOT_FILE]
    data = json.loads((tmp_path / ERRORS_FILE).read_text())
    assert data["group"] == "3-6" and data["threshold"] == 0.95 and len(data["errors"]["anomalous"]) == 12
    held_out = np.concatenate([errors["val"], errors["test"]])
    assert data["roc"]["auroc"] == pytest.approx(auroc(held_out, errors["anomalous"]))
    assert data["roc"]["fpr"][0] == 0 and data["roc"]["tpr"][-1] == 1
    with Image.open(tmp_path / "plots" / PLOT_FILE) as im:
        assert im.width > im.height  # histogram and ROC side by side
    hist, roc = error_figures(data)
    assert {t.name for t in hist.data} == {"validation (normal)", "test (normal)", "labelled anomalies"}
    assert hist.layout.shapes[0].x0 == 0.95  # the threshold line
    assert "AUROC" in roc.layout.title.text


def test_without_labelled_anomalies_there_is_no_roc(tmp_path):
    write_error_plots(tmp_path, {"val": np.linspace(0, 1, 10), "test": np.zeros(0), "anomalous": np.zeros(0)}, 0.9,
                      group="9-12")
    data = json.loads((tmp_path / ERRORS_FILE).read_text())
    assert data["roc"] is None and set(data["errors"]) == {"val"}
    assert len(error_figures(data)) == 1 and (tmp_path / "plots" / PLOT_FILE).is_file()
