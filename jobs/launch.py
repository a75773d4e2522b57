"""One launch path: (family, dataset, config or YAML text, overrides) → the runs to create and
the gate's blockers.

The Launch page, the CLI, sweeps, retry and ``submit_run`` all plan here, so a config is read
(YAML through the one safe loader, ``engine.configs``), expanded (the family's
``FamilyConfig.expand``, e.g. anomaly's ``age_groups``: one run per group), validated, named and
gated (``Family.launch_blockers`` on ``jobs.inputs.dataset_ref``) the same way everywhere.
Planning writes nothing; ``jobs.api.submit_plan`` creates and enqueues a plan's runs.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from engine.configs import (
    ConfigError,
    FieldError,
    config_overrides,
    load_config_data,
    validate_config,
)
from engine.core import DatasetRef, Family, FamilyConfig, LaunchBlocked
from engine.families import FAMILIES

log = logging.getLogger("trainyard.launch")

__all__ = ["plan_launch", "placement_errors", "LaunchPlan", "PlannedRun"]


@dataclass(frozen=True)
class PlannedRun:
    """One run a launch creates: its validated config, its name, what tells it apart from the
    plan's other runs (``label``, e.g. an age group; "" when nothing does) and the gate's reasons
    to refuse it (empty when the data suffices)."""
    config: FamilyConfig
    name: str = ""
    label: str = ""
    blockers: tuple[str, ...] = ()
    dataset: DatasetRef | None = field(default=None, repr=False, compare=False)  # what the gate saw (combined)

    def review(self) -> dict[str, Any]:
        """What the family shows before Start (its config's ``review``: splits, classes, ...)."""
        review = getattr(self.config, "review", None)
        return dict(review(self.dataset)) if review is not None else {}


@dataclass(frozen=True)
class LaunchPlan:
    family: str
    dataset_id: int | None
    runs: tuple[PlannedRun, ...]
    dataset: DatasetRef | None = field(default=None, repr=False)  # with its samples, as the gate saw it

    @property
    def configs(self) -> list[FamilyConfig]:
        return [r.config for r in self.runs]

    @property
    def blockers(self) -> list[str]:
        """Every run's gate reasons, each once, in order."""
        out: list[str] = []
        for run in self.runs:
            out += [b for b in run.blockers if b not in out]
        return out

    def require_launchable(self, *, override: bool = False) -> list[str]:
        """Raise ``LaunchBlocked`` when the gate refuses a run and ``override`` is false; return the
        reasons (empty when the gate is happy) so an overridden launch can report them."""
        reasons = self.blockers
        if reasons and not override:
            raise LaunchBlocked(self.family, reasons)
        return reasons


ConfigSource = Mapping[str, Any] | BaseModel | str | Path | None


def _relabel(family: Family, exc: ConfigError, source: str) -> ConfigError:
    """A validation error says where the config came from ("YAML", "form"), unless it already names
    a more precise source (a config file, one ``--set``)."""
    return ConfigError(family.key, exc.errors, source) if exc.source == "config" else exc


def _data(family: Family, item: ConfigSource, overrides: Sequence[str], source: str) -> Any:
    """Plain data (or a validated config) of one config source, with the ``key=value`` overrides."""
    if isinstance(item, Path):
        item = config_overrides(family, {}, item)
    elif isinstance(item, str):
        item = load_config_data(family, item, source)
    if not overrides:
        return item
    if isinstance(item, BaseModel):
        item = item.model_dump(mode="json")
    if item is not None and not isinstance(item, Mapping):
        raise ConfigError(family.key, [FieldError("", f"expected a mapping of keys, got {type(item).__name__}")],
                          source)
    return config_overrides(family, dict(item or {}), sets=list(overrides))


def _names(family: Family, name: str, labels: list[str]) -> list[str]:
    """The user's name as is for one run; runs told apart by a label are "NAME LABEL" (the family's
    key when no name was given); other runs of one launch are numbered."""
    if any(labels):
        return [f"{name or family.key} {label}".rstrip() for label in labels]
    if len(labels) == 1:
        return [name]
    return [f"{name} {i + 1}" if name else "" for i in range(len(labels))]


def _check_init_versions(fam: Family, configs: list[FamilyConfig], source: str) -> None:
    """Refuse a launch whose ``init_version`` names no model version, another family's, or one
    whose artifact changed on disk, before anything is written or queued (``ConfigError`` naming
    the key and the value)."""
    from engine.trust import UntrustedModelError
    from jobs.inputs import init_version_of, verified_model_version

    errors: list[FieldError] = []
    for version_id in dict.fromkeys(v for v in map(init_version_of, configs) if v is not None):
        try:
            verified_model_version(version_id, family=fam.key)
        except (LookupError, ValueError, UntrustedModelError, FileNotFoundError) as exc:
            errors.append(FieldError("init_version", f"{version_id}: {exc}"))
    if errors:
        raise ConfigError(fam.key, errors, source)


def _combined(fam: Family, configs: list[FamilyConfig], ref: DatasetRef | None,
              source: str) -> list[DatasetRef | None]:
    """What each config's gate looks at: the chosen dataset, or, for a config that combines
    ``extra_datasets`` with it, the family's combined view of them (``combined_dataset``). A
    missing dataset, one of another kind, the chosen one listed again or a combination the family
    refuses (``combine_problems``: e.g. yolo classes that conflict) is a ``ConfigError`` on
    ``extra_datasets``, before anything is written or queued."""
    from jobs.inputs import extra_datasets_for

    out: list[DatasetRef | None] = []
    errors: list[FieldError] = []
    for cfg in configs:
        ids = list(getattr(cfg, "extra_datasets", None) or ())
        if ids and ref is None:
            errors.append(FieldError("extra_datasets", "combining datasets needs a chosen dataset first"))
        elif ids and ref.id in ids:
            errors.append(FieldError("extra_datasets", f"{ref.id} is the chosen dataset ({ref.name}) itself"))
        if ref is None or any(e.field == "extra_datasets" for e in errors):
            out.append(ref)
            continue
        try:
            extras = extra_datasets_for(cfg, kind=fam.dataset_kind)
        except (LookupError, ValueError) as exc:
            errors.append(FieldError("extra_datasets", str(exc).strip("'\"")))
            out.append(ref)
            continue
        problems = cfg.combine_problems(ref, extras) if hasattr(cfg, "combine_problems") else []
        field = "extra_datasets" if extras else "classes"
        errors += [FieldError(field, p) for p in problems]
        out.append(cfg.combined_dataset(ref, extras) if hasattr(cfg, "combined_dataset") and not problems else ref)
    if errors:
        raise ConfigError(fam.key, list(dict.fromkeys(errors)), source)
    return out


def _check_catalog(fam: Family, configs: list[FamilyConfig], source: str) -> None:
    """Refuse a launch that loads a models-folder file the base-model catalog does not hold, holds
    for another family, or whose digest no longer matches its record (``jobs.catalog``)."""
    from engine.trust import UntrustedModelError
    from jobs.catalog import CatalogError, catalog_refs, verify_entry

    errors: list[FieldError] = []
    seen: set[str] = set()
    for cfg in configs:
        for ref in catalog_refs(fam.key, cfg):
            if ref.name in seen:
                continue
            seen.add(ref.name)
            try:
                verify_entry(ref.name, family=fam.key)
            except (CatalogError, UntrustedModelError, FileNotFoundError) as exc:
                errors.append(FieldError(ref.key, str(exc)))
    if errors:
        raise ConfigError(fam.key, errors, source)


def placement_errors(configs: Sequence[FamilyConfig]) -> list[FieldError]:
    """Why no connected worker can take a config's run (``jobs.machines.placement_problem``),
    naming ``device`` or ``gpus`` and the value; empty when every run can be served, when the
    runs need no GPU, or when the registry cannot be read (the queue then refuses at submit)."""
    from jobs.machines import placement_problem

    errors: list[FieldError] = []
    seen: set[tuple[str, int | None]] = set()
    for cfg in configs:
        device = getattr(cfg, "device", None)
        if device is None or (device, getattr(cfg, "gpus", None)) in seen:
            continue
        gpus = getattr(cfg, "gpus", None)
        seen.add((device, gpus))
        try:
            problem = placement_problem(device, gpus)
        except (OSError, ConnectionError) as exc:
            log.warning("cannot read the worker registry (%s); placement not checked", exc)
            return []
        except Exception as exc:  # redis' own errors, an unreadable registration
            if type(exc).__module__.startswith("redis"):
                log.warning("cannot read the worker registry (%s); placement not checked", exc)
                return []
            raise
        if problem:
            errors.append(FieldError("gpus" if gpus is not None else "device", problem))
    return errors


def plan_launch(family: str | Family, *, dataset_id: int | None = None,
                config: ConfigSource | Sequence[Mapping[str, Any] | BaseModel] = None,
                overrides: Sequence[str] = (), name: str = "", source: str = "config",
                dataset: DatasetRef | None = None) -> LaunchPlan:
    """The runs one launch creates and why the gate would refuse them; nothing is written.

    ``config`` is plain data, a validated config, YAML text, a YAML file (``Path``), None (the
    defaults) or a list of data/configs (each planned on its own, e.g. a sweep's trials);
    ``overrides`` are ``key=value`` items (the CLI's ``--set``) applied on top, values read as YAML.
    Each config is expanded by the family (``FamilyConfig.expand``) and validated: a
    ``ConfigError`` names each bad key and the ``source``. ``dataset`` saves loading the dataset
    again when the caller has it with its samples; else ``dataset_id`` is loaded
    (``LookupError`` when there is no such dataset)."""
    from jobs.inputs import dataset_ref

    fam = FAMILIES[family] if isinstance(family, str) else family
    model = fam.config_model
    items = list(config) if isinstance(config, (list, tuple)) else [config]
    ref = dataset if dataset is not None else dataset_ref(dataset_id)
    configs: list[FamilyConfig] = []
    try:
        for item in items:
            data = _data(fam, item, overrides, source)
            expanded = [data] if isinstance(data, model) else model.expand(data, ref)
            configs += [validate_config(fam, d) for d in expanded]
    except ConfigError as exc:
        raise _relabel(fam, exc, source) from None
    if not configs:
        raise ConfigError(fam.key, [FieldError("", "this launch creates no run")], source)
    _check_init_versions(fam, configs, source)
    _check_catalog(fam, configs, source)
    gated = _combined(fam, configs, ref, source)
    if placement := placement_errors(configs):
        raise ConfigError(fam.key, placement, source)
    labels = [cfg.run_label() for cfg in configs]
    runs = tuple(PlannedRun(config=cfg, name=run_name, label=label, blockers=tuple(fam.launch_blockers(seen, cfg)),
                            dataset=seen)
                 for cfg, seen, run_name, label in zip(configs, gated, _names(fam, name, labels), labels))
    return LaunchPlan(family=fam.key, dataset_id=ref.id if ref is not None else dataset_id, runs=runs, dataset=ref)
