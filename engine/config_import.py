"""Read a seed system's nested config file (``model:``/``training:``/``data:`` sections, its own
key names) into a family's flat Trainyard config, saying what became of every key.

Each family declares its mapping beside its config, in ``engine/families/<key>/seed_config.py``
as ``SEED_CONFIG = SeedMapping(...)``: renames (a seed key, dotted by section or bare, to the
Trainyard key, with an optional value conversion) and keys dropped on purpose, each with the
reason. A key that is neither renamed, dropped nor a Trainyard key of the same name is listed as
unknown: nothing is silently ignored. The CLI (``python -m engine config import``) only prints
what ``import_seed_config`` returns.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.core import Family

__all__ = ["SeedMapping", "Rename", "KeyOutcome", "SeedImport", "import_seed_config", "seed_mapping", "flatten"]

MAX_KEYS = 2000  # a seed config is a handful of sections; more is not a config file


@dataclass(frozen=True)
class Rename:
    """A seed key that becomes ``target``; ``convert`` turns its value into Trainyard's (e.g.
    ``precision: 16`` → ``16-mixed``) and raises ``ValueError`` naming what it cannot take."""
    target: str
    why: str = ""
    convert: Callable[[Any], Any] | None = None


@dataclass(frozen=True)
class SeedMapping:
    """One family's reading of its seed system's config: ``renames`` and ``dropped`` are keyed by
    the dotted path (``optimizer.learning_rate``) or the bare key name (``learning_rate``); the
    dotted path wins."""
    system: str = ""
    renames: Mapping[str, Rename | str] = field(default_factory=dict)
    dropped: Mapping[str, str] = field(default_factory=dict)

    def rename(self, path: str) -> Rename | None:
        leaf = path.rpartition(".")[2]
        found = self.renames.get(path, self.renames.get(leaf))
        return Rename(found) if isinstance(found, str) else found

    def drop_reason(self, path: str) -> str | None:
        leaf = path.rpartition(".")[2]
        return self.dropped.get(path, self.dropped.get(leaf))


@dataclass(frozen=True)
class KeyOutcome:
    """What became of one seed key: ``mapped`` (same name), ``renamed``, ``dropped`` or ``unknown``."""
    source: str
    action: str
    target: str | None = None
    value: Any = None
    why: str = ""

    def __str__(self) -> str:
        if self.action == "mapped":
            return f"mapped   {self.source} = {self.value!r}"
        if self.action == "renamed":
            return f"renamed  {self.source} -> {self.target} = {self.value!r}" + (f"  ({self.why})" if self.why else "")
        if self.action == "dropped":
            return f"dropped  {self.source}: {self.why}"
        return f"unknown  {self.source}: {self.why}"


@dataclass
class SeedImport:
    family: str
    data: dict[str, Any]
    outcomes: list[KeyOutcome]

    def by_action(self, action: str) -> list[KeyOutcome]:
        return [o for o in self.outcomes if o.action == action]


def seed_mapping(family: Family) -> SeedMapping:
    """The family's ``SEED_CONFIG`` (``<package>.seed_config``), or an empty mapping: then only
    keys already named as Trainyard names them map."""
    package = family.config_path.partition(":")[0].rpartition(".")[0]
    name = f"{package}.seed_config"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        return SeedMapping()
    return module.SEED_CONFIG


def flatten(data: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """``{"model": {"dropout_rate": 0.1}}`` → ``[("model.dropout_rate", 0.1)]``; lists are values."""
    out: list[tuple[str, Any]] = []
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out += flatten(value, path + ".")
        else:
            out.append((path, value))
    return out


def import_seed_config(family: Family, source: Mapping[str, Any] | str | Path) -> SeedImport:
    """The family's flat config data from a seed config (a mapping, YAML text or a file), and the
    outcome of every key. Not validated here: ``engine.configs.validate_config`` does that."""
    from engine.safeio import load_yaml

    if isinstance(source, Path):
        source = load_yaml(source)
    elif isinstance(source, str):
        source = load_yaml(source)
    if not isinstance(source, Mapping):
        raise ValueError(f"a seed config is a mapping of sections and keys, not {type(source).__name__}")
    mapping, fields = seed_mapping(family), family.config_model.model_fields
    leaves = flatten(source)
    if len(leaves) > MAX_KEYS:
        raise ValueError(f"the file holds {len(leaves)} keys; a config has at most {MAX_KEYS}")
    data: dict[str, Any] = {}
    origin: dict[str, str] = {}
    outcomes: list[KeyOutcome] = []
    for path, value in leaves:
        leaf = path.rpartition(".")[2]
        rename = mapping.rename(path)
        reason = mapping.drop_reason(path)
        if rename is not None:
            try:
                converted = rename.convert(value) if rename.convert else value
            except (TypeError, ValueError) as exc:
                outcomes.append(KeyOutcome(path, "dropped", rename.target, value, f"value {value!r} not taken: {exc}"))
                continue
            action, target, why = "renamed", rename.target, rename.why
            if target == path:
                action = "mapped"
        elif reason is not None:
            outcomes.append(KeyOutcome(path, "dropped", None, value, reason))
            continue
        elif leaf in fields:
            action, target, converted, why = "mapped" if leaf == path else "renamed", leaf, value, ""
            if action == "renamed":
                why = f"section {path.rpartition('.')[0]!r} flattened"
        else:
            close = sorted(f for f in fields if f in leaf or leaf in f)[:3]
            hint = f"; Trainyard keys with a similar name: {', '.join(close)}" if close else ""
            outcomes.append(KeyOutcome(path, "unknown", None, value,
                                       f"no {family.key} config key of this name and no mapping for it{hint}"))
            continue
        if target in data:
            outcomes.append(KeyOutcome(path, "dropped", target, converted,
                                       f"{target} is already set from {origin[target]}; the first one is kept"))
            continue
        data[target], origin[target] = converted, path
        outcomes.append(KeyOutcome(path, action, target, converted, why))
    return SeedImport(family=family.key, data=data, outcomes=outcomes)
