"""Learning-curve studies through the real queue, worker and database, on generated drawings with
the tiny ViT: the curve falls with data and predicts the full-size runs; subsets are stratified
and deterministic; bad fractions are refused before anything is queued."""
from __future__ import annotations

import math
import time
from collections import Counter

import pytest

from db import queries
from db.models import FINISHED, RunStatus
from db.session import session_scope
from engine.configs import ConfigError, validate_config
from engine.families import FAMILIES
from engine.families.anomaly.data import is_anomalous
from engine.families.anomaly.splits import stratified_split, train_subset
from engine.families.anomaly.sufficiency import samples_in_group
from jobs import api
from jobs.inputs import dataset_ref
from jobs.learning_curves import StudyBlocked, latest_study, study_result, submit_study

GROUP = "3-12"
TINY = {"age_group": GROUP, "epochs": 40, "patience": 0, "batch_size": 16, "hidden_dims": [32, 16], "latent_dim": 4,
        "backbone": "tiny-vit", "min_samples": 5, "dropout": 0.0}
FRACTIONS = (0.125, 0.25, 0.5, 1.0)
REPEATS = 3


def wait_study(sweep_id: int, timeout: float = 400.0):
    deadline = time.monotonic() + timeout
    while True:
        with session_scope() as s:
            sweep = queries.get_sweep(session=s, sweep_id=sweep_id)
            runs = queries.sweep_runs(session=s, sweep_id=sweep_id)
        if sweep.status != "running" and all(r.status in FINISHED for r in runs):
            return sweep, runs
        if time.monotonic() > deadline:
            raise AssertionError(f"study {sweep_id} stayed {sweep.status}: {[(r.id, r.status.value) for r in runs]}")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def drawings(stack, worker):
    info = api.generate_sample_dataset("drawings", name="drawings-curve", count=160, seed=11, timeout_s=120)
    assert not info["problems"]
    return info["dataset_id"]


@pytest.fixture(scope="module")
def study(drawings):
    sweep = submit_study("anomaly", dataset_id=drawings, config=TINY, fractions=FRACTIONS, repeats=REPEATS)
    sweep, runs = wait_study(sweep.id)
    for run in runs:
        assert run.status == RunStatus.completed, run.error
    return sweep, runs


def test_the_fitted_curve_falls_with_data_and_predicts_the_full_size_runs(study, drawings):
    sweep, runs = study
    assert sweep.kind == "curve" and sweep.status == "completed" and sweep.metric == "val/loss"
    assert len(runs) == len(FRACTIONS) * REPEATS
    assert Counter(r.config["data_fraction"] for r in runs) == {f: REPEATS for f in FRACTIONS}
    assert {r.config["seed"] for r in runs} == {42, 43, 44}
    result = study_result(sweep.id)
    (group,) = result.groups
    assert group.label == GROUP and result.size_key == "training items"
    sizes = [p.n for p in group.points]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1] / 4  # the smallest fraction really trains on less
    fit = group.fit
    assert fit, group.sentence
    assert fit.decreasing and fit.predict(sizes[0]) > fit.predict(sizes[-1])
    full = group.points[-1]
    print(f"curve: {[(p.n, round(p.mean, 4), round(p.sd, 4)) for p in group.points]} "
          f"fit a={fit.a:.4g} b={fit.b:.3g} c={fit.c:.4g} predicted full {fit.predict(full.n):.4g}; {group.sentence}")
    assert full.low <= fit.predict(full.n) <= full.high, (full.values, fit.predict(full.n))
    assert group.sentence.startswith("doubling the training data is expected to improve val/loss by ")
    latest = latest_study(drawings, family="anomaly")
    assert latest is not None and latest.sweep.id == sweep.id


def test_same_seed_same_files_and_every_year_keeps_its_share(drawings):
    ref = dataset_ref(drawings)
    normal = [r for r in samples_in_group(ref.samples, validate_config(FAMILIES["anomaly"], TINY).age_range)
              if not is_anomalous(r.label)]
    ages, paths = [float(r.group_value) for r in normal], [r.path for r in normal]
    tr, _, _ = stratified_split(ages, (0.7, 0.2, 0.1), seed=42)

    def files(fraction, seed):
        return {paths[i] for i in train_subset(tr, ages, paths, fraction, seed)}

    assert files(0.25, 42) == files(0.25, 42) and files(0.25, 42) != files(0.25, 43)
    assert files(0.25, 42) < files(0.5, 42) < files(1.0, 42) == {paths[i] for i in tr}
    years = Counter(math.floor(ages[i]) for i in tr)
    kept = Counter(math.floor(ages[i]) for i in train_subset(tr, ages, paths, 0.25, 42))
    assert set(kept) == set(years)  # no year of age lost
    assert all(abs(kept[y] - years[y] * 0.25) <= 1 for y in years)


def _counts():
    with session_scope() as s:
        return len(queries.list_sweeps(session=s)), len(queries.list_runs(session=s, limit=100_000))


@pytest.mark.parametrize("fractions, message", [("0,0.5,1", "fractions"), ("0.5,1.5", "fractions"),
                                                ("0.5,abc", "fractions"), ("nan,1", "fractions")])
def test_bad_fractions_are_refused_before_anything_is_queued(drawings, fractions, message):
    before = _counts()
    with pytest.raises(ConfigError, match=message):
        submit_study("anomaly", dataset_id=drawings, config=TINY, fractions=fractions)
    assert _counts() == before


def test_a_fraction_that_leaves_the_group_too_small_is_refused_naming_it(drawings):
    before = _counts()
    with pytest.raises(StudyBlocked) as exc:
        submit_study("anomaly", dataset_id=drawings, config={**TINY, "min_samples": 60}, fractions="0.01,1")
    assert any(f"age group {GROUP}" in r and "data_fraction=0.01" in r for r in exc.value.reasons), exc.value.reasons
    assert _counts() == before
