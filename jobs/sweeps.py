"""Sweeps on the queue: an Optuna study in the project's database, one ordinary run per trial.

There is no coordinator process. ``submit_sweep`` queues the first ``parallel`` trials; when a
trial's run ends, the worker that ran it tells the study the result and queues the next trials
(``trial_finished`` → ``advance``, under a Redis lock so two workers finishing at once never
over-fill the sweep). Any worker on any machine can therefore run trials, and a sweep survives
restarts of everything. Pruning: the run's context reports the sweep metric at each epoch to the
trial; when Optuna's pruner says so the run stops as ``pruned``.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from db import queries
from db.models import FINISHED, RunStatus, Sweep, utcnow
from db.session import normalize_url, session_scope
from engine.configs import ConfigError, validate_config
from engine.core import LaunchBlocked, RunPruned
from engine.families import FAMILIES
from engine.sweeps import SweepSpec, build_pruner, build_sampler, parse_space, resolve_objective, suggest, trial_config, validate_sweep
from jobs import notify
from jobs.connection import get_redis, require_queue
from jobs.enqueue import enqueue_run_attempt
from settings import get_settings

log = logging.getLogger("trainyard.sweep")

__all__ = ["submit_sweep", "cancel_sweep", "advance", "trial_finished", "param_importance", "SweepLink", "SweepBlocked",
           "load_study", "sweep_spec"]


class SweepBlocked(LaunchBlocked):
    """The data-sufficiency gate refuses some configuration of the sweep; ``reasons`` says why."""


@lru_cache(maxsize=4)
def _storage(url: str):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("sqlite"):
        kwargs = {"connect_args": {"timeout": 30}}
    return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)


def storage():
    """Optuna's RDB storage on the project's own database (its tables sit beside Trainyard's)."""
    return _storage(normalize_url(get_settings().resolved_database_url))


def sweep_spec(sweep: Sweep) -> tuple[SweepSpec, dict[str, Any]]:
    """The stored spec and base config of a sweep."""
    data = dict(sweep.space)
    base = data.pop("base", {})
    return SweepSpec.model_validate(data), base


def load_study(sweep: Sweep):
    """The sweep's Optuna study, with its sampler and pruner (neither is stored by Optuna)."""
    import optuna

    spec, _ = sweep_spec(sweep)
    params, _ = parse_space(spec.space)
    return optuna.load_study(study_name=sweep.study_name, storage=storage(),
                             sampler=build_sampler(spec, params), pruner=build_pruner(spec.pruner))


def submit_sweep(*, family: str, spec: SweepSpec, base: dict[str, Any] | None = None,
                 dataset_id: int | None = None, priority: str = "default", override: bool = False) -> Sweep:
    """Validate the whole space (``ConfigError`` names the key), apply the sufficiency gate to
    every configuration the space can produce (``SweepBlocked`` unless ``override``), create the
    study and queue the first trials."""
    import optuna

    fam = FAMILIES[family]
    base_cfg = validate_config(fam, base or {}).model_dump(mode="json")
    checked = validate_sweep(fam, spec, base_cfg)
    metric, direction = resolve_objective(fam, spec, base_cfg.get("task"))
    if dataset_id is not None and not override and checked:
        from jobs.launch import plan_launch

        reasons = plan_launch(fam, dataset_id=dataset_id, config=checked, source="sweep").blockers
        if reasons:
            raise SweepBlocked(family, reasons)
    require_queue()  # Redis down: QueueUnavailable, and nothing is written
    with session_scope() as s:
        if dataset_id is not None and queries.get_dataset(session=s, dataset_id=dataset_id) is None:
            raise LookupError(f"no dataset with id {dataset_id}")
        sweep = queries.create_sweep(session=s, name=spec.name, family=family,
                                     space={**spec.model_dump(mode="json"), "base": base_cfg},
                                     method=spec.method, metric=metric, direction=direction,
                                     max_trials=spec.max_trials, parallel=spec.parallel, pruner=spec.pruner,
                                     dataset_id=dataset_id, priority=priority)
    optuna.create_study(study_name=sweep.study_name, storage=storage(), direction=direction, load_if_exists=True)
    advance(sweep.id)
    with session_scope() as s:
        return queries.get_sweep(session=s, sweep_id=sweep.id)


def _capacity(spec: SweepSpec) -> int:
    if spec.method != "grid":
        return spec.max_trials
    total = 1
    for p in parse_space(spec.space)[0]:
        total *= len(p.values())
    return min(spec.max_trials, total)


def advance(sweep_id: int) -> list[int]:
    """Queue trials until ``parallel`` are in flight or the budget is spent; finish the sweep
    when nothing is left. Returns the new runs' ids."""
    new: list[int] = []
    with get_redis().lock(f"trainyard:sweep-lock:{sweep_id}", timeout=120, blocking_timeout=120):
        with session_scope() as s:
            sweep = queries.get_sweep(session=s, sweep_id=sweep_id)
            if sweep is None or sweep.status != "running":
                return new
            runs = queries.sweep_runs(session=s, sweep_id=sweep_id)
        spec, base = sweep_spec(sweep)
        params, fixed = parse_space(spec.space)
        fam = FAMILIES[sweep.family]
        in_flight = sum(1 for r in runs if r.status not in FINISHED)
        launched = len(runs)
        capacity = _capacity(spec)
        study = load_study(sweep) if launched < capacity and in_flight < sweep.parallel else None
        while study is not None and launched < capacity and in_flight < sweep.parallel:
            study.sampler = build_sampler(spec, params, asked=len(study.get_trials(deepcopy=False)))
            trial = study.ask()
            values = suggest(trial, params)
            try:
                cfg = validate_config(fam, trial_config(base, fixed, values)).model_dump(mode="json")
            except ConfigError as exc:  # validate_sweep checked the bounds; a combination may still clash
                import optuna

                study.tell(trial, state=optuna.trial.TrialState.FAIL)
                log.warning("sweep %s trial %s: %s", sweep_id, trial.number, exc)
                launched += 1
                continue
            with session_scope() as s:
                run_id = queries.create_run(session=s, family=sweep.family, config=cfg, dataset_id=sweep.dataset_id,
                                            name=f"{sweep.name} · trial {trial.number}", task=cfg.get("task"),
                                            priority=sweep.priority, sweep_id=sweep_id, trial_number=trial.number).id
            enqueue_run_attempt(run_id, sweep.priority)
            new.append(run_id)
            launched += 1
            in_flight += 1
        finished = in_flight == 0 and launched >= capacity
        if finished:
            with session_scope() as s:
                queries.update_sweep(session=s, sweep_id=sweep_id, status="completed", finished_at=utcnow())
    if finished:
        notify.sweep_finished(sweep_id)
    return new


def _objective_value(run, metric: str) -> float | None:
    value = (run.summary or {}).get(metric)
    if not isinstance(value, (int, float)):
        with session_scope() as s:
            value = queries.last_metric_value(session=s, run_id=run.id, name=metric)
    return float(value) if value is not None and math.isfinite(float(value)) else None


def trial_finished(run_id: int) -> None:
    """Tell the study how the run's trial ended, then queue what comes next."""
    import optuna

    with session_scope() as s:
        run = queries.get_run(session=s, run_id=run_id)
        sweep = queries.get_sweep(session=s, sweep_id=run.sweep_id) if run and run.sweep_id else None
    if sweep is not None and sweep.kind == "curve":  # a learning-curve study: no Optuna study to tell
        from jobs.learning_curves import study_run_finished

        return study_run_finished(sweep.id)
    if sweep is None or run.trial_number is None:
        return
    study = load_study(sweep)
    state = optuna.trial.TrialState
    value = _objective_value(run, sweep.metric)
    if value is not None and sweep.metric not in (run.summary or {}):
        with session_scope() as s:  # the pages rank trials by the summary: keep the objective there
            queries.update_run(session=s, run_id=run.id, summary={**(run.summary or {}), sweep.metric: value})
    try:
        if run.status == RunStatus.completed and value is not None:
            study.tell(run.trial_number, value)
        elif run.status == RunStatus.pruned:
            study.tell(run.trial_number, state=state.PRUNED)
        else:
            study.tell(run.trial_number, state=state.FAIL)
    except (RuntimeError, ValueError) as exc:  # already told (a retried job): nothing to change
        log.info("sweep %s trial %s: %s", sweep.id, run.trial_number, exc)
    advance(sweep.id)


def cancel_sweep(sweep_id: int) -> None:
    """Stop a sweep: queued trials never start, running ones stop at their next batch."""
    from jobs.api import cancel_run

    with session_scope() as s:
        if queries.get_sweep(session=s, sweep_id=sweep_id) is None:
            raise LookupError(f"no sweep with id {sweep_id}")
        queries.update_sweep(session=s, sweep_id=sweep_id, status="cancelled", finished_at=utcnow())
        runs = queries.sweep_runs(session=s, sweep_id=sweep_id)
    for run in runs:
        if run.status not in FINISHED:
            cancel_run(run.id)
    notify.sweep_finished(sweep_id)


@dataclass
class SweepLink:
    """What a trial's run context needs to report to its trial and ask whether to prune."""
    sweep_id: int
    study_name: str
    trial_number: int
    metric: str
    pruner: str

    @classmethod
    def for_run(cls, run) -> "SweepLink | None":
        if not run.sweep_id or run.trial_number is None:
            return None
        with session_scope() as s:
            sweep = queries.get_sweep(session=s, sweep_id=run.sweep_id)
        if sweep is None:
            return None
        return cls(sweep.id, sweep.study_name, run.trial_number, sweep.metric, sweep.pruner)

    def report(self, value: float, step: int) -> None:
        """Report an intermediate value; raise ``RunPruned`` when the pruner stops the trial."""
        if self.pruner == "none" or not math.isfinite(value):
            return
        import optuna

        st = storage()
        study = optuna.load_study(study_name=self.study_name, storage=st, pruner=build_pruner(self.pruner))
        trial_id = st.get_trial_id_from_study_id_trial_number(st.get_study_id_from_name(self.study_name),
                                                              self.trial_number)
        trial = optuna.trial.Trial(study, trial_id)
        trial.report(float(value), int(step))
        if trial.should_prune():
            raise RunPruned(f"pruned at step {step}: {self.metric}={value:.5g} is worse than the other trials "
                            f"({self.pruner} pruner)")


def param_importance(sweep_id: int) -> dict[str, float]:
    """Optuna's parameter importance over the finished trials ({} when it cannot be estimated)."""
    import optuna

    with session_scope() as s:
        sweep = queries.get_sweep(session=s, sweep_id=sweep_id)
    try:
        return dict(optuna.importance.get_param_importances(load_study(sweep)))
    except (RuntimeError, ValueError) as exc:
        log.info("sweep %s: no importance yet (%s)", sweep_id, exc)
        return {}
