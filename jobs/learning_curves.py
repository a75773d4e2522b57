"""Learning-curve studies on the queue: would more data help?

A study is a sweep group of ``kind="curve"``: one ordinary run per (data fraction, repeat) — and,
where a launch makes one run per group (anomaly: per age group), per group too — all planned,
validated and gated by ``plan_launch`` like any launch, then queued at once. Repeat ``r`` runs with
``seed + r`` (a different subset and initialisation, so the spread over repeats is real). There is
no Optuna study: when the last run of the study ends, the worker marks the study completed.

``study_result`` reads the finished runs back: the family's ranking headline against training-set
size, per group, with the power law of ``engine.learning_curves`` fitted to them.
"""
from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from db import queries
from db.models import FINISHED, RunStatus, Sweep, utcnow
from db.session import session_scope
from engine.configs import ConfigError, FieldError, validate_config
from engine.core import LaunchBlocked
from engine.families import FAMILIES
from engine.learning_curves import CurvePoint, NotEnoughPoints, PowerLawFit, curve_points, doubling_sentence, fit_power_law
from engine.subsets import check_fraction
from jobs import notify

log = logging.getLogger("trainyard.curve")

__all__ = ["DEFAULT_FRACTIONS", "DEFAULT_REPEATS", "MAX_REPEATS", "MAX_FRACTIONS", "KIND", "StudyBlocked",
           "parse_fractions", "plan_study", "submit_study", "study_run_finished", "study_result", "latest_study",
           "StudyResult", "CurveGroup", "TRAIN_SIZE_KEYS", "study_of_runs",
           "summary_rows", "StudyPlan"]

KIND = "curve"
DEFAULT_FRACTIONS = (0.125, 0.25, 0.5, 1.0)
DEFAULT_REPEATS = 2
MAX_REPEATS = 10
MAX_FRACTIONS = 12
# where each family's summary says how many training items the run had (after data_fraction)
TRAIN_SIZE_KEYS = ("data/train", "data/train_images")


class StudyBlocked(LaunchBlocked):
    """The data-sufficiency gate refuses some run of the study (e.g. a fraction leaves a group too
    small); ``reasons`` names them."""


def parse_fractions(value: str | Sequence[Any] | None) -> list[float]:
    """``"0.125,0.25,0.5,1"`` (or a list) → sorted distinct fractions in (0, 1]; ``ConfigError`` on
    ``fractions`` naming the bad value."""
    if value is None or value == "":
        return list(DEFAULT_FRACTIONS)
    items = [p.strip() for p in value.split(",") if p.strip()] if isinstance(value, str) else list(value)
    errors: list[FieldError] = []
    out: set[float] = set()
    for item in items:
        try:
            out.add(check_fraction(float(item) if isinstance(item, str) else item))
        except ValueError as exc:
            errors.append(FieldError("fractions", str(exc).replace("data_fraction", "fraction", 1)
                                     if "must lie" in str(exc) else f"fraction {item!r} is not a number"))
    if not errors and not out:
        errors.append(FieldError("fractions", "give at least one fraction, e.g. 0.25,0.5,1"))
    if not errors and len(out) > MAX_FRACTIONS:
        errors.append(FieldError("fractions", f"{len(out)} fractions; at most {MAX_FRACTIONS}"))
    if errors:
        raise ConfigError("learning-curve", errors)
    return sorted(out)


def _check_repeats(repeats: int) -> int:
    if isinstance(repeats, bool) or not isinstance(repeats, int) or not 1 <= repeats <= MAX_REPEATS:
        raise ConfigError("learning-curve", [FieldError("repeats", f"{repeats!r}: give a whole number from 1 to "
                                                                   f"{MAX_REPEATS}")])
    return repeats


@dataclass(frozen=True)
class StudyPlan:
    """The runs a study would queue (a ``LaunchPlan``), the fractions and repeats it covers."""
    plan: Any  # jobs.launch.LaunchPlan
    fractions: tuple[float, ...]
    repeats: int
    base: dict[str, Any]

    @property
    def blockers(self) -> list[str]:
        return self.plan.blockers


def plan_study(family: str, *, dataset_id: int | None, config: Any = None, overrides: Sequence[str] = (),
               fractions: str | Sequence[Any] | None = None, repeats: int = DEFAULT_REPEATS,
               name: str = "", source: str = "config") -> StudyPlan:
    """Plan every run of a study (nothing is written): the base config (data, YAML text or file, with
    ``key=value`` overrides) expanded as a launch (anomaly ``age_groups``: one run per group), then
    one copy per fraction and repeat with ``data_fraction`` and ``seed + repeat`` set. Bad fractions
    or repeats raise ``ConfigError``; the gate's reasons are in ``blockers``."""
    from jobs.launch import plan_launch

    fam = FAMILIES[family]
    fracs = parse_fractions(fractions)
    repeats = _check_repeats(repeats)
    base_plan = plan_launch(fam, dataset_id=dataset_id, config=config, overrides=overrides, source=source)
    seed_field = fam.config_model.model_fields.get("seed")
    seed_cap = next((m.le for m in (seed_field.metadata if seed_field else ()) if getattr(m, "le", None) is not None),
                    2**31 - 1)
    items: list[dict[str, Any]] = []
    names: list[str] = []
    label = name or f"{fam.key} learning curve"
    for planned in base_plan.runs:
        data = planned.config.model_dump(mode="json")
        for f in fracs:
            for r in range(repeats):
                seed = (int(data.get("seed", 0)) + r) % (seed_cap + 1)
                items.append({**data, "data_fraction": f, "seed": seed})
                names.append(f"{label}{' ' + planned.label if planned.label else ''} · f={f:g} · r{r + 1}")
    plan = plan_launch(fam, dataset=base_plan.dataset, dataset_id=dataset_id, config=items, source=source)
    plan = replace(plan, runs=tuple(replace(run, name=n) for run, n in zip(plan.runs, names)))
    base = base_plan.runs[0].config.model_dump(mode="json")
    return StudyPlan(plan=plan, fractions=tuple(fracs), repeats=repeats, base=base)


def submit_study(family: str, *, dataset_id: int | None, config: Any = None, overrides: Sequence[str] = (),
                 fractions: str | Sequence[Any] | None = None, repeats: int = DEFAULT_REPEATS, name: str = "",
                 priority: str = "default", override: bool = False, source: str = "config") -> Sweep:
    """Plan the study, refuse it (``StudyBlocked``) when the gate refuses a run and ``override`` is
    false, then store the study and queue every run. Nothing is written or queued when validation,
    the gate or the queue refuses."""
    from jobs import api
    from jobs.connection import require_queue
    from jobs.enqueue import priority_queue
    from jobs.registry import ranking_headline

    priority_queue(priority)
    study = plan_study(family, dataset_id=dataset_id, config=config, overrides=overrides, fractions=fractions,
                       repeats=repeats, name=name, source=source)
    if study.blockers and not override:
        raise StudyBlocked(family, study.blockers)
    require_queue()
    head = ranking_headline(family, study.base.get("task"))
    if head is None:
        raise ConfigError(family, [FieldError("", f"family {family!r} declares no ranking headline to draw")])
    n = len(study.plan.runs)
    with session_scope() as s:
        sweep = queries.create_sweep(session=s, name=name, family=family, kind=KIND,
                                     space={"kind": KIND, "fractions": list(study.fractions), "repeats": study.repeats,
                                            "base": study.base, "overrides": list(overrides)},
                                     method="grid", metric=head.name,
                                     direction="maximize" if head.direction == "max" else "minimize",
                                     max_trials=n, parallel=n, pruner="none", dataset_id=study.plan.dataset_id,
                                     priority=priority)
        sweep_id = sweep.id
    try:
        api.submit_plan(study.plan, priority=priority, override=True, sweep_id=sweep_id)
    except Exception as exc:
        with session_scope() as s:
            queries.update_sweep(session=s, sweep_id=sweep_id, status="failed", error=str(exc), finished_at=utcnow())
        raise
    with session_scope() as s:
        return queries.get_sweep(session=s, sweep_id=sweep_id)


def study_run_finished(sweep_id: int) -> None:
    """A run of the study ended: when none is left running, the study is completed."""
    with session_scope() as s:
        sweep = queries.get_sweep(session=s, sweep_id=sweep_id)
        if sweep is None or sweep.status != "running":
            return
        runs = queries.sweep_runs(session=s, sweep_id=sweep_id)
        if any(r.status not in FINISHED for r in runs):
            return
        done = any(r.status == RunStatus.completed for r in runs)
        queries.update_sweep(session=s, sweep_id=sweep_id, status="completed" if done else "failed",
                             error=None if done else "no run of the study completed", finished_at=utcnow())
    notify.sweep_finished(sweep_id)


@dataclass
class CurveGroup:
    """One curve: the runs of one group (anomaly: an age group; "" where the family has none)."""
    label: str
    points: list[CurvePoint]
    fit: PowerLawFit | NotEnoughPoints
    sentence: str

    @property
    def steep(self) -> bool:
        return bool(self.fit) and self.fit.steep


@dataclass
class StudyResult:
    sweep: Sweep
    metric: str
    label: str  # how pages name the metric
    direction: str  # "min" or "max"
    size_key: str  # what the x axis counts ("training items" or "data fraction")
    groups: list[CurveGroup] = field(default_factory=list)
    runs: list[Any] = field(default_factory=list)
    measured: list[dict[str, Any]] = field(default_factory=list)  # one row per run, for tables

    @property
    def finished(self) -> int:
        return sum(1 for r in self.runs if r.status in FINISHED)

    @property
    def steep_groups(self) -> list[str]:
        return [g.label or "all" for g in self.groups if g.steep]


def _value(run: Any, metric: str) -> float | None:
    value = (run.summary or {}).get(metric)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        with session_scope() as s:
            value = queries.last_metric_value(session=s, run_id=run.id, name=metric)
    return float(value) if value is not None and math.isfinite(float(value)) else None


def _size(run: Any) -> float | None:
    summary = run.summary or {}
    for key in TRAIN_SIZE_KEYS:
        v = summary.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0:
            return float(v)
    return None


def study_result(sweep_id: int) -> StudyResult | None:
    """The study's curves (None when there is no such study): completed runs' headline against
    their training-set size, grouped by the run's label, each with its power-law fit."""
    with session_scope() as s:
        sweep = queries.get_sweep(session=s, sweep_id=sweep_id)
        runs = queries.sweep_runs(session=s, sweep_id=sweep_id) if sweep else []
    if sweep is None or sweep.kind != KIND:
        return None
    fam = FAMILIES[sweep.family]
    direction = "max" if sweep.direction == "maximize" else "min"
    head = next((h for h in fam.headlines if h.name == sweep.metric), None)
    label = (head.label if head and head.label else sweep.metric)
    rows: list[dict[str, Any]] = []
    for run in runs:
        try:
            cfg = validate_config(fam, dict(run.config))
            group, fraction = cfg.run_label(), float(cfg.data_fraction)
        except (ConfigError, AttributeError):
            group, fraction = "", float((run.config or {}).get("data_fraction", 1.0))
        value = _value(run, sweep.metric) if run.status == RunStatus.completed else None
        rows.append({"run": run.id, "name": run.name, "group": group, "fraction": fraction,
                     "seed": (run.config or {}).get("seed"), "status": run.status.value, "n": _size(run),
                     "value": value})
    by_size = all(r["n"] is not None for r in rows if r["value"] is not None)
    size_key = "training items" if by_size else "data fraction"
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        grouped[r["group"]].append(r)
    groups = []
    for g in sorted(grouped):
        measured = [((r["n"] if by_size else r["fraction"]), r["value"], r["fraction"])
                    for r in grouped[g] if r["value"] is not None]
        points = curve_points(measured)
        fit = fit_power_law(points, direction)
        groups.append(CurveGroup(g, points, fit, doubling_sentence(fit, sweep.metric)))
    return StudyResult(sweep=sweep, metric=sweep.metric, label=label, direction=direction, size_key=size_key,
                       groups=groups, runs=runs, measured=rows)


def latest_study(dataset_id: int, family: str | None = None) -> StudyResult | None:
    """The newest learning-curve study of the dataset (of ``family`` when given), with its curves."""
    with session_scope() as s:
        sweeps = queries.list_sweeps(session=s, kind=KIND, dataset_id=dataset_id, family=family, limit=1)
    return study_result(sweeps[0].id) if sweeps else None


def study_of_runs(run_ids: Sequence[int]) -> int | None:
    """The learning-curve study the runs belong to (a share link's runs), or None."""
    with session_scope() as s:
        ids = {getattr(queries.get_run(session=s, run_id=i), "sweep_id", None) for i in run_ids}
        ids.discard(None)
        sweeps = [queries.get_sweep(session=s, sweep_id=i) for i in ids]
    curve = [sw.id for sw in sweeps if sw is not None and sw.kind == KIND]
    return curve[0] if len(curve) == 1 else None


def summary_rows(result: StudyResult) -> list[Mapping[str, Any]]:
    """One row per group: its sentence and fit, for tables and exports."""
    out = []
    for g in result.groups:
        row: dict[str, Any] = {"group": g.label or "all", "points": sum(len(p.values) for p in g.points),
                               "sentence": g.sentence, "more data likely helps": g.steep}
        if g.fit:
            row.update({k: v for k, v in g.fit.as_dict().items() if k != "steep"})
        out.append(row)
    return out

