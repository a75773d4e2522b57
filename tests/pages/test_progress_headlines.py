"""Progress shows a finished run's headline metrics as rounded tiles, ranking one first."""
from __future__ import annotations

from tests.pages.seed_runs import seed  # noqa: F401  (fixture)
from tests.pages.test_pages import open_page


def test_progress_shows_headline_tiles_instead_of_raw_json(seed):
    at = open_page("pages/3_Progress.py")
    at.query_params["run"] = str(seed.anomaly_good)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    tiles = [(m.label, m.value) for m in at.metric]
    assert tiles[:3] == [("val reconstruction loss", "0.2123"), ("AUROC", "0.9123"), ("threshold", "0.5012")]
    assert all(len(value) <= 8 for _, value in tiles)  # no 16-digit floats
    assert not any("0.2123456789012" in j.value for j in at.json)
