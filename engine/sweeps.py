"""Sweep specifications: a search space in YAML, validated against a family's config model.

A space maps config keys to how they vary::

    lr: {log_range: [1.0e-4, 1.0e-2]}       # float, sampled on a log scale
    dropout: {range: [0.0, 0.5]}             # float, uniform (optional step)
    latent_dim: {int_range: [8, 64], step: 8}
    optimizer: [adam, adamw]                 # a list: one of these values
    hidden_dims: {choice: [[256, 128], [128]]}  # choices that are themselves lists
    epochs: 20                               # anything else: fixed

Samplers and pruners are Optuna's (``build_sampler``, ``build_pruner``); this module imports
Optuna only inside those functions, so pages can validate a spec cheaply.
"""
from __future__ import annotations

import itertools
import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from engine.configs import ConfigError, FieldError, _field_errors, validate_config
from engine.core import Family
from engine.safeio import UnsafeFile, load_yaml

__all__ = ["SweepSpec", "Param", "parse_space", "parse_sweep_yaml", "validate_spec", "validate_sweep",
           "resolve_objective", "grid_values", "build_sampler", "build_pruner", "suggest", "trial_config",
           "MAX_GRID"]

MAX_GRID = 10_000  # combinations a grid may expand to


class Param(BaseModel):
    """One varied key."""
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    kind: Literal["float", "log", "int", "choice"]
    low: float | None = None
    high: float | None = None
    step: float | None = None
    choices: tuple[Any, ...] = ()

    @property
    def indexed(self) -> bool:
        """Choices Optuna cannot store as they are (lists, mappings) are suggested by index."""
        return self.kind == "choice" and not all(isinstance(c, (str, int, float, bool)) or c is None
                                                 for c in self.choices)

    def values(self) -> list[Any]:
        """Every value a grid visits (ranges need a step, except log ranges: 5 points per decade)."""
        if self.kind == "choice":
            return list(self.choices)
        if self.kind == "log":
            if self.step:
                raise ValueError(f"{self.name}: a log_range takes no step")
            n = max(2, int(round(5 * math.log10(self.high / self.low))) + 1)
            return [float(self.low * (self.high / self.low) ** (i / (n - 1))) for i in range(n)]
        if not self.step:
            raise ValueError(f"{self.name}: a grid needs a step for this range (or list the values)")
        n = int(math.floor((self.high - self.low) / self.step + 1e-9)) + 1
        vals = [self.low + i * self.step for i in range(n)]
        return [int(v) for v in vals] if self.kind == "int" else [round(float(v), 12) for v in vals]

    def corners(self) -> list[Any]:
        """The values that bound what a sampler may pick: validated before anything is queued."""
        if self.kind == "choice":
            return list(self.choices)
        lo, hi = self.low, self.high
        return [int(lo), int(hi)] if self.kind == "int" else [float(lo), float(hi)]


def _param(name: str, value: Any) -> Param | None:
    """A space entry → ``Param``; ``None`` when the value is fixed."""
    if isinstance(value, list):
        if not value:
            raise ValueError(f"{name}: an empty list of choices")
        return Param(name=name, kind="choice", choices=tuple(value))
    if not isinstance(value, dict):
        return None
    keys = set(value) - {"step"}
    if keys == {"choice"}:
        choices = value["choice"]
        if not isinstance(choices, list) or not choices:
            raise ValueError(f"{name}: 'choice' needs a non-empty list")
        return Param(name=name, kind="choice", choices=tuple(choices))
    kinds = {"range": "float", "log_range": "log", "int_range": "int"}
    if len(keys) != 1 or next(iter(keys)) not in kinds:
        return None  # a dict-valued config key held fixed
    key = next(iter(keys))
    bounds = value[key]
    if (not isinstance(bounds, list) or len(bounds) != 2
            or not all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds)):
        raise ValueError(f"{name}: {key} needs [low, high] numbers")
    low, high = float(bounds[0]), float(bounds[1])
    if not (math.isfinite(low) and math.isfinite(high)) or low >= high:
        raise ValueError(f"{name}: {key} needs finite low < high, got {bounds}")
    if key == "log_range" and low <= 0:
        raise ValueError(f"{name}: log_range needs low > 0")
    step = value.get("step")
    if step is not None and (not isinstance(step, (int, float)) or not 0 < step <= high - low):
        raise ValueError(f"{name}: step must be > 0 and at most high - low")
    return Param(name=name, kind=kinds[key], low=low, high=high, step=step)


def parse_space(space: dict[str, Any]) -> tuple[list[Param], dict[str, Any]]:
    """Split a space into varied ``Param``s and fixed key → value."""
    params, fixed = [], {}
    for name, value in space.items():
        p = _param(str(name), value)
        if p is None:
            fixed[str(name)] = value
        else:
            params.append(p)
    return params, fixed


class SweepSpec(BaseModel):
    """A whole sweep as the YAML editor, the form and the CLI describe it."""
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    name: str = Field("", max_length=200, description="shown on the pages; default: family + id")
    method: Literal["grid", "random", "guided"] = Field("random", description="guided = Optuna's TPE")
    max_trials: int = Field(10, ge=1, le=1000, description="runs to launch at most (a grid may stop earlier)")
    parallel: int = Field(1, ge=1, le=64, description="trials queued at once")
    metric: str = Field("", max_length=200, description="metric to optimise; default: the family's headline")
    direction: Literal["", "minimize", "maximize"] = Field("", description="default: the headline's direction")
    pruner: Literal["none", "median", "hyperband"] = Field("none", description="stop bad trials early")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="sampler seed (repeatable sweeps)")
    space: dict[str, Any] = Field(default_factory=dict, description="key → list, range, log_range, int_range or fixed")

    @model_validator(mode="after")
    def _space_parses(self) -> "SweepSpec":
        params, _ = parse_space(self.space)  # ValueError names the key
        if not params:
            raise ValueError("space: vary at least one key (a list, range, log_range or int_range)")
        if self.method == "grid":
            total = 1
            for p in params:
                total *= len(p.values())
                if total > MAX_GRID:
                    raise ValueError(f"space: the grid has over {MAX_GRID:,} combinations; narrow it")
        return self


def parse_sweep_yaml(text: str) -> SweepSpec:
    """YAML text → ``SweepSpec``; ``ConfigError`` names the key (or line) of every problem."""
    try:
        data = load_yaml(text) if text.strip() else {}
    except UnsafeFile as exc:
        raise ConfigError("sweep", [FieldError("", str(exc))], "YAML") from None
    if not isinstance(data, dict):
        raise ConfigError("sweep", [FieldError("", "must be a mapping of keys to values")], "YAML")
    data.pop("family", None)  # the example files name their family for the reader
    return validate_spec(data)


def validate_spec(data: dict[str, Any]) -> SweepSpec:
    """Plain data → ``SweepSpec``; ``ConfigError`` names each bad key."""
    try:
        return SweepSpec.model_validate(data)
    except ValidationError as exc:
        raise ConfigError("sweep", _field_errors(exc)) from None


def resolve_objective(family: Family, spec: SweepSpec, task: str | None = None) -> tuple[str, str]:
    """The metric and direction the sweep optimises (default: the family's ranking headline)."""
    metric, direction = spec.metric, spec.direction
    heads = family.headlines_for(task)
    head = next((h for h in heads if h.name == metric), heads[0] if heads and not metric else None)
    if not metric:
        if head is None:
            raise ConfigError("sweep", [FieldError("metric", f"family {family.key!r} declares no headline metric; "
                                                               "name one")])
        metric = head.name
    if not direction:
        direction = ("maximize" if head.direction == "max" else "minimize") if head else "minimize"
    return metric, direction


def trial_config(base: dict[str, Any], fixed: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    return {**base, **fixed, **values}


def grid_values(params: list[Param], *, encoded: bool = False) -> dict[str, list[Any]]:
    """Each param's grid; ``encoded`` gives what Optuna stores (list-valued choices by index)."""
    return {p.name: list(range(len(p.choices))) if encoded and p.indexed else p.values() for p in params}


def validate_sweep(family: Family, spec: SweepSpec, base: dict[str, Any]) -> list[dict[str, Any]]:
    """Validate the whole space against the family's config model before anything is queued.

    Every key must exist; every choice and both ends of every range must validate with the base
    config (grid: every combination, up to ``MAX_GRID``). Returns the configs checked; raises
    ``ConfigError`` naming the key and value that cannot work."""
    params, fixed = parse_space(spec.space)
    fields = family.config_model.model_fields
    unknown = [k for k in [*fixed, *(p.name for p in params)] if k not in fields]
    if unknown:
        raise ConfigError("sweep", [FieldError(f"space.{k}", f"unknown key of {family.key}; valid: "
                                                            f"{', '.join(sorted(fields))}") for k in unknown])
    checked = []
    if spec.method == "grid":
        grid = grid_values(params)
        combos = [dict(zip(grid, vals)) for vals in itertools.product(*grid.values())]
    else:
        mid = {p.name: p.corners()[0] for p in params}
        combos = [{**mid, p.name: v} for p in params for v in p.corners()]
    for values in combos:
        cfg = trial_config(base, fixed, values)
        try:
            checked.append(validate_config(family, cfg).model_dump(mode="json"))
        except ConfigError as exc:
            where = ", ".join(f"{k}={v!r}" for k, v in values.items())
            raise ConfigError("sweep", [FieldError(f"space.{e.field}" if e.field else "space",
                                                   f"{e.message} (with {where})") for e in exc.errors]) from None
    return checked


def build_sampler(spec: SweepSpec, params: list[Param], asked: int = 0):
    """Optuna's sampler for the method. Trials are asked from different processes, each building
    a fresh sampler: seeding it with ``seed + asked`` (trials asked so far) keeps a sweep
    repeatable without every process drawing the same first value. The grid keeps one seed: it
    fixes the order of the grid, which every process must share."""
    import optuna

    seed = spec.seed + asked
    if spec.method == "grid":
        return optuna.samplers.GridSampler(grid_values(params, encoded=True), seed=spec.seed)
    if spec.method == "guided":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(5, max(1, spec.max_trials // 3)))
    return optuna.samplers.RandomSampler(seed=seed)


def build_pruner(name: str):
    import optuna

    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=1)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner()
    return optuna.pruners.NopPruner()


def suggest(trial, params: list[Param]) -> dict[str, Any]:
    """Ask an Optuna trial for one value per param."""
    out = {}
    for p in params:
        if p.kind == "choice":
            if p.indexed:  # Optuna stores scalar choices only: lists go by index
                out[p.name] = p.choices[trial.suggest_categorical(p.name, list(range(len(p.choices))))]
            else:
                out[p.name] = trial.suggest_categorical(p.name, list(p.choices))
        elif p.kind == "int":
            out[p.name] = trial.suggest_int(p.name, int(p.low), int(p.high), step=int(p.step or 1))
        else:
            out[p.name] = trial.suggest_float(p.name, p.low, p.high, log=p.kind == "log",
                                              step=p.step if p.kind == "float" else None)
    return out
