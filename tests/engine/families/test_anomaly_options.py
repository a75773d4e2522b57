"""The seed system's monitoring options on anomaly runs: validation and log frequencies, plot
files only when ``save_plots`` (``plot_frequency`` redraws the training curves), half-year
strata (``age_group_size``), and the embeddings-only ``train anomaly --skip-training``."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from db import queries
from db.session import session_scope
from engine.families.anomaly.config import AnomalyConfig
from engine.families.anomaly.plots import CURVES_FILE, ERRORS_FILE, PLOT_FILE
from engine.families.anomaly.splits import stratified_split
from engine.families.anomaly.trainer import AnomalyTrainer
from jobs.datasets import generate_sample_job
from jobs.inputs import dataset_ref

SMALL = {"age_group": "3-12", "epochs": 4, "hidden_dims": [16], "latent_dim": 4, "batch_size": 16, "patience": 0,
         "device": "cpu", "embed_batch_size": 64}


class _Context:
    device, resume_from = "cpu", None

    def __init__(self, out_dir: Path) -> None:
        self.out_dir, self.rows = out_dir, []
        out_dir.mkdir(parents=True, exist_ok=True)

    def log(self, metrics, *, step, epoch=None) -> None:
        self.rows.append((step, dict(metrics)))

    def progress(self, done, total, phase="train") -> None:
        pass

    def checkpoint(self, path, *, step, monitored=None, best=None) -> None:
        pass

    def should_stop(self) -> bool:
        return False


@pytest.fixture(scope="module")
def drawings(stack):
    return generate_sample_job("drawings", "anomaly-options", {"count": 60, "seed": 2, "size": 32})


def test_half_year_strata_each_keep_their_share():
    ages = [3.0 + 0.05 * i for i in range(20)]  # 3.0-3.45 and 3.5-3.95: two half years of ten
    _, val, _ = stratified_split(ages, (0.6, 0.2, 0.2), seed=1, stratum_years=0.5)
    halves = Counter(ages[i] >= 3.5 for i in val)
    assert halves == {False: 2, True: 2}
    _, val, _ = stratified_split(ages, (0.6, 0.2, 0.2), seed=1)  # one whole-year stratum: no such promise
    assert len(val) == 4


def test_frequencies_and_save_plots_off(drawings, tmp_path):
    ctx = _Context(tmp_path / "off")
    config = AnomalyConfig(**SMALL, validation_frequency=2, log_frequency=2, save_plots=False, age_group_size=0.5)
    AnomalyTrainer().fit(config, dataset_ref(drawings["dataset_id"]), ctx)
    assert [step for step, m in ctx.rows if "val/loss" in m] == [1, 3]
    assert [step for step, m in ctx.rows if "train/loss" in m] == [1, 3]
    assert (ctx.out_dir / ERRORS_FILE).is_file() and not (ctx.out_dir / "plots").exists()

    ctx = _Context(tmp_path / "on")
    AnomalyTrainer().fit(AnomalyConfig(**SMALL, plot_frequency=2), dataset_ref(drawings["dataset_id"]), ctx)
    assert [step for step, m in ctx.rows if "val/loss" in m] == [0, 1, 2, 3]
    assert (ctx.out_dir / "plots" / PLOT_FILE).is_file() and (ctx.out_dir / "plots" / CURVES_FILE).is_file()


def test_skip_training_only_computes_the_embeddings(drawings, capsys):
    from cli import main

    with session_scope() as s:
        runs = len(queries.list_runs(session=s))
    assert main(["train", "anomaly", "--dataset", "anomaly-options", "--age-groups", "3-8,8-12",
                 "--skip-training", "--override"]) == 0
    out = capsys.readouterr().out
    assert "[3-8] prepared" in out and "[8-12] prepared" in out and "missing 0" in out
    with session_scope() as s:
        assert len(queries.list_runs(session=s)) == runs  # nothing trained
        assert queries.count_embeddings(session=s, dataset_id=drawings["dataset_id"], backbone="tiny-vit") > 0
