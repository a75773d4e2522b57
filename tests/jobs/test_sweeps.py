"""Sweeps through the real queue, worker and database: Optuna samplers, pruners and study storage."""
from __future__ import annotations

import itertools
import time

import pytest

from db import queries
from db.models import FINISHED, RunStatus
from db.session import session_scope
from engine.configs import ConfigError
from engine.core import FAMILIES, Family
from engine.sweeps import parse_sweep_yaml, validate_spec
from jobs import api
from jobs.sweeps import SweepBlocked, cancel_sweep, load_study, submit_sweep


def wait_sweep(sweep_id: int, statuses=("completed", "cancelled"), timeout: float = 180.0):
    deadline = time.monotonic() + timeout
    while True:
        with session_scope() as s:
            sweep = queries.get_sweep(session=s, sweep_id=sweep_id)
            runs = queries.sweep_runs(session=s, sweep_id=sweep_id)
        if sweep.status in statuses and all(r.status in FINISHED for r in runs):
            return sweep, runs
        if time.monotonic() > deadline:
            raise AssertionError(f"sweep {sweep_id} stayed {sweep.status}: "
                                 f"{[(r.id, r.status.value, r.error) for r in runs]}")
        time.sleep(0.3)


def test_random_sweep_runs_its_trials_as_ordinary_runs(stack, worker):
    spec = validate_spec({"method": "random", "max_trials": 4, "parallel": 2, "seed": 3,
                          "space": {"lr": {"log_range": [0.01, 0.5]}, "epochs": 2, "batches": 2}})
    sweep = submit_sweep(family="toy", spec=spec)
    assert sweep.metric == "val/loss" and sweep.direction == "minimize"  # the family's headline
    sweep, runs = wait_sweep(sweep.id)
    assert sweep.status == "completed"
    assert [r.trial_number for r in runs] == [0, 1, 2, 3]
    assert all(r.status == RunStatus.completed and r.config["epochs"] == 2 for r in runs)
    assert len({r.config["lr"] for r in runs}) == 4 and all(0.01 <= r.config["lr"] <= 0.5 for r in runs)
    study = load_study(sweep)
    trials = {t.number: t for t in study.trials}
    assert all(t.state.name == "COMPLETE" for t in trials.values()) and len(trials) == 4
    with session_scope() as s:
        for r in runs:  # each trial's value is its run's last val/loss
            assert trials[r.trial_number].value == pytest.approx(
                queries.last_metric_value(session=s, run_id=r.id, name="val/loss"))
    assert study.best_value == min(t.value for t in trials.values())


def test_grid_sweep_visits_every_combination_once(stack, worker):
    spec = parse_sweep_yaml("method: grid\nmax_trials: 50\nparallel: 2\n"
                            "space:\n  lr: [0.05, 0.1]\n  batches: [2, 3]\n  epochs: 1\n")
    sweep, runs = wait_sweep(submit_sweep(family="toy", spec=spec).id)
    assert len(runs) == 4, "the grid caps max_trials"
    assert sorted((r.config["lr"], r.config["batches"]) for r in runs) == sorted(
        itertools.product([0.05, 0.1], [2, 3]))


def test_median_pruner_stops_a_hopeless_trial_as_pruned(stack, worker):
    """Trials in grid order for seed 1: a good learning rate first, then a hopeless one that
    the median pruner stops after its warm-up step."""
    spec = validate_spec({"method": "grid", "parallel": 1, "pruner": "median", "seed": 1,
                          "space": {"lr": [0.3, 1e-7], "epochs": 6, "batches": 3}})
    sweep, runs = wait_sweep(submit_sweep(family="toy", spec=spec).id)
    by_lr = {r.config["lr"]: r for r in runs}
    assert [r.config["lr"] for r in runs] == [0.3, 1e-7], "grid order for this seed changed"
    assert by_lr[0.3].status == RunStatus.completed
    bad = by_lr[1e-7]
    assert bad.status == RunStatus.pruned and "pruned at step" in bad.error
    with session_scope() as s:
        steps = [m.step for m in queries.metric_rows(session=s, run_id=bad.id, names=["val/loss"])]
    assert steps and max(steps) < 5, "a pruned trial stops before its last epoch"
    states = {t.number: t.state.name for t in load_study(sweep).trials}
    assert states[bad.trial_number] == "PRUNED"


def test_guided_sweep_with_a_pruner_prunes_a_hopeless_trial(stack, worker):
    """Optuna's TPE (seed 4 asks 0.3 first) and the median pruner: a learning rate that cannot
    learn is stopped before its last epoch."""
    spec = validate_spec({"method": "guided", "max_trials": 4, "parallel": 1, "pruner": "median", "seed": 4,
                          "space": {"lr": [0.3, 1e-7], "epochs": 6, "batches": 3}})
    sweep, runs = wait_sweep(submit_sweep(family="toy", spec=spec).id)
    assert runs[0].config["lr"] == 0.3 and runs[0].status == RunStatus.completed
    pruned = [r for r in runs if r.status == RunStatus.pruned]
    assert pruned and all(r.config["lr"] == 1e-7 for r in pruned)
    with session_scope() as s:
        for r in pruned:
            steps = [m.step for m in queries.metric_rows(session=s, run_id=r.id, names=["val/loss"])]
            assert max(steps) < 5, "pruned before its last epoch"


def test_cancel_sweep_stops_running_and_queued_trials(stack, worker):
    spec = validate_spec({"method": "random", "max_trials": 6, "parallel": 2,
                          "space": {"lr": {"range": [0.05, 0.2]}, "epochs": 20, "sleep_s": 0.2}})
    sweep = submit_sweep(family="toy", spec=spec)
    deadline = time.monotonic() + 60
    while True:
        with session_scope() as s:
            runs = queries.sweep_runs(session=s, sweep_id=sweep.id)
        if any(r.status == RunStatus.training for r in runs) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    cancel_sweep(sweep.id)
    sweep, runs = wait_sweep(sweep.id, statuses=("cancelled",), timeout=60)
    assert len(runs) == 2, "no trial is queued after the cancel"
    assert all(r.status == RunStatus.cancelled for r in runs)
    never_started = [r.id for r in runs if r.started_at is None]
    time.sleep(3)  # a queued trial that still started would show up now
    with session_scope() as s:
        later = queries.sweep_runs(session=s, sweep_id=sweep.id)
    assert len(later) == 2 and all(r.status == RunStatus.cancelled for r in later)
    assert [r.id for r in later if r.started_at is None] == never_started


def test_an_impossible_space_names_the_key_and_queues_nothing(stack):
    with session_scope() as s:
        before = len(queries.list_sweeps(session=s))
    with pytest.raises(ConfigError, match=r"space\.lr"):
        submit_sweep(family="toy", spec=validate_spec({"space": {"lr": {"range": [-1.0, 0.5]}}}))
    with pytest.raises(ConfigError, match=r"space\.nope: unknown key"):
        submit_sweep(family="toy", spec=validate_spec({"space": {"nope": [1, 2]}}))
    with pytest.raises(ConfigError, match="log_range needs low > 0"):
        validate_spec({"space": {"lr": {"log_range": [0, 1]}}})
    with session_scope() as s:
        assert len(queries.list_sweeps(session=s)) == before


def refuse_small_lr(dataset, config):
    return [f"lr {config.lr} is below what dataset {dataset.id} can learn with"] if config.lr < 0.01 else []


def test_the_sufficiency_gate_applies_to_the_whole_sweep(stack):
    FAMILIES.register(Family(key="toy-gated", title="gated toy", config_path="tests.fixtures.toy_family:ToyConfig",
                             trainer_path="tests.fixtures.toy_trainer:ToyTrainer",
                             gate_path="tests.jobs.test_sweeps:refuse_small_lr"))
    try:
        with session_scope() as s:
            ds = queries.create_dataset(session=s, name="gate-sweep-ds", kind="toy", root=str(stack), summary={})
        spec = validate_spec({"space": {"lr": {"log_range": [0.001, 0.1]}}, "metric": "val/loss"})
        with pytest.raises(SweepBlocked, match="below what dataset"):
            submit_sweep(family="toy-gated", spec=spec, dataset_id=ds.id)
    finally:
        FAMILIES.unregister("toy-gated")


def test_anomaly_grid_sweep_on_two_workers_names_the_best_trial(stack, worker):
    """A grid of four anomaly trials through the queue with two training workers; the sweep view
    names the best trial, the one the database ranks first."""
    from streamlit.testing.v1 import AppTest

    from tests.conftest import ROOT, start_worker, stop_worker

    info = api.generate_sample_dataset("drawings", name="drawings-sweep", count=120, seed=3, timeout_s=120)
    second = start_worker(stack, "sweep2")
    try:
        spec = validate_spec({"method": "grid", "parallel": 2, "max_trials": 4,
                              "space": {"lr": [0.001, 0.003], "latent_dim": [4, 8], "epochs": 8,
                                        "hidden_dims": [[32]], "batch_size": 16, "age_group": "3-9",
                                        "min_samples": 5}})
        sweep, runs = wait_sweep(submit_sweep(family="anomaly", spec=spec, dataset_id=info["dataset_id"]).id,
                                 timeout=300)
    finally:
        stop_worker(second)
    assert len(runs) == 4 and all(r.status == RunStatus.completed for r in runs), [(r.id, r.error) for r in runs]
    assert len({r.worker for r in runs}) == 2, "both workers took trials"
    assert sweep.metric == "val/loss" and sweep.direction == "minimize"
    best = min(runs, key=lambda r: r.summary["val/loss"])
    assert load_study(sweep).best_value == pytest.approx(best.summary["val/loss"])
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=60).run()
    at.switch_page("pages/9_Sweeps.py")
    at.query_params["sweep"] = str(sweep.id)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert any(f"Best so far: trial {best.trial_number} (run #{best.id})" in m.value for m in at.success)
