"""Family configs: defaults from ``configs/<family>.yaml``, validation by the family's model.

The same functions serve the Launch form, the YAML editor and the CLI, so an error reads the
same everywhere: the key's dotted path and the reason.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from engine.core import Family
from engine.safeio import UnsafeFile, load_yaml

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"

__all__ = ["deprecated_alias", "INIT_VERSION_HELP", "ConfigError", "FieldError", "default_config_text", "default_config", "validate_config",
           "parse_config_yaml", "config_overrides", "config_text", "load_config_data"]


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class ConfigError(ValueError):
    """A config that does not validate; ``errors`` name each bad key and why."""

    def __init__(self, family: str, errors: list[FieldError], source: str = "config") -> None:
        self.family = family
        self.errors = errors
        self.source = source
        super().__init__(f"invalid {family} {source}: " + "; ".join(map(str, errors)))


INIT_VERSION_HELP = ("fine-tune: start from this registered model version of the same family (its id; "
                     "empty: from scratch)")


def deprecated_alias(data: Any, *, old: str, new: str, family: str) -> Any:
    """Config data with a renamed key read under its new name (``init_model_version`` →
    ``init_version``), logging a deprecation note; both keys at once is an error naming them."""
    if not isinstance(data, dict) or old not in data:
        return data
    import logging

    data = dict(data)
    value = data.pop(old)
    if data.get(new) is not None and value is not None and data[new] != value:
        raise ValueError(f"{old} ({value}) and {new} ({data[new]}) both given; {old} is the old name of {new}")
    if value is not None:
        data[new] = value
    logging.getLogger(f"engine.families.{family}").warning(
        "%s config key %r is deprecated; use %r (read as %s=%s)", family, old, new, new, value)
    return data


def _field_errors(exc: ValidationError) -> list[FieldError]:
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key (not a field of this family's config)"
        elif err["type"] in ("literal_error", "enum") and "expected" in err.get("ctx", {}):
            msg = f"must be one of {err['ctx']['expected']} (got {err.get('input')!r})"
        out.append(FieldError(loc, msg))
    return out


def default_config_text(family: Family) -> str:
    """The commented defaults file of a family, as the YAML editor shows it."""
    path = CONFIG_DIR / f"{family.key}.yaml"
    if path.exists():
        return path.read_text()
    return yaml.safe_dump(family.config_model().model_dump(mode="json"), sort_keys=False)


def default_config(family: Family) -> dict[str, Any]:
    return parse_config_yaml(family, default_config_text(family)).model_dump(mode="json")


def validate_config(family: Family, data: dict[str, Any] | BaseModel | None) -> BaseModel:
    """Validate plain data with the family's model; raise ``ConfigError`` naming each key."""
    model = family.config_model
    if isinstance(data, model):
        return data
    if isinstance(data, BaseModel):
        data = data.model_dump()
    if data is not None and not isinstance(data, dict):
        raise ConfigError(family.key, [FieldError("", f"expected a mapping of keys, got {type(data).__name__}")])
    try:
        return model.model_validate(data or {})
    except ValidationError as exc:
        raise ConfigError(family.key, _field_errors(exc)) from None


def _load_yaml(family: Family, text: str, source: str) -> Any:
    """Plain YAML as the editor and the CLI accept it: syntax errors give line and column, and
    duplicate keys, aliases and tags are refused (``engine.safeio.load_yaml``), because a
    second ``lr:`` further down silently winning is how a config says one thing and runs another."""
    if not text.strip():
        return {}
    try:
        yaml.compose(text, Loader=yaml.SafeLoader)  # syntax only: builds nodes, expands no alias
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(family.key, [FieldError("", f"{where}{problem}")], source) from None
    try:
        return load_yaml(text)
    except UnsafeFile as exc:
        raise ConfigError(family.key, [FieldError("", str(exc))], source) from None


def parse_config_yaml(family: Family, text: str, source: str = "YAML") -> BaseModel:
    """Parse YAML text (syntax errors give line and column) and validate it."""
    data = _load_yaml(family, text, source)
    try:
        return validate_config(family, data)
    except ConfigError as exc:
        raise ConfigError(family.key, exc.errors, source) from None


def config_overrides(family: Family, base: dict[str, Any], config_file: Path | None = None,
                     sets: list[str] = ()) -> dict[str, Any]:
    """``base`` updated with a YAML file of overrides and ``key=value`` items (the CLI's
    ``--config`` and ``--set``), read with the same rules as the YAML editor."""
    data = dict(base)
    if config_file is not None:
        loaded = _load_yaml(family, Path(config_file).read_text(), f"config file {config_file}")
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(family.key, [FieldError("", "expected a mapping of keys")], f"config file {config_file}")
        data.update(loaded or {})
    for item in sets:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(family.key, [FieldError(item, "expected KEY=VALUE")], "--set")
        data[key.strip()] = _load_yaml(family, value, f"--set {key.strip()}") if value.strip() else None
    return data


_TOP_KEY = re.compile(r"^([A-Za-z_][\w-]*):(\s*)(.*?)(\s+#.*)?$")


def _flow(value: Any) -> str:
    """One YAML line for a value (JSON is YAML; it quotes strings that would read as another type)."""
    return json.dumps(value, ensure_ascii=False)


def config_text(family: Family, values: dict[str, Any], extra: dict[str, Any] | None = None,
                comments: dict[str, str] | None = None) -> str:
    """The family's commented defaults file with ``values`` written in, so the YAML editor shows
    what the form says and keeps each key's comment. ``extra`` keys (page-level, such as the
    anomaly ``age_groups``) are added at the top. Falls back to a plain dump when a line cannot be
    rewritten faithfully. ``comments`` adds a trailing comment to an ``extra`` key."""
    base = default_config_text(family)
    defaults = _load_yaml(family, base, "defaults") or {}
    lines, out, seen = base.splitlines(), [], set()
    i = 0
    while i < len(lines):
        line = lines[i]
        m = _TOP_KEY.match(line)
        i += 1
        if not m:
            out.append(line)
            continue
        key = m.group(1)
        seen.add(key)
        nested = []
        while not m.group(3) and i < len(lines) and lines[i][:1] in (" ", "-", "\t"):
            nested.append(lines[i])  # a block value: replaced whole when the value changed
            i += 1
        if key not in values:
            continue  # replaced by an ``extra`` key (e.g. age_group by age_groups)
        if values[key] == defaults.get(key):
            out += [line, *nested]
        else:
            out.append(f"{key}: {_flow(values[key])}{m.group(4) or ''}")
    out += [f"{k}: {_flow(v)}" for k, v in values.items() if k not in seen]
    head = [f"{k}: {_flow(v)}" + (f"  # {(comments or {})[k]}" if k in (comments or {}) else "")
            for k, v in (extra or {}).items()]
    text = "\n".join(head + out) + "\n"
    try:
        parsed = _load_yaml(family, text, "YAML")
    except ConfigError:
        parsed = None
    if parsed != {**values, **(extra or {})}:
        text = yaml.safe_dump({**(extra or {}), **values}, sort_keys=False)
    return text


def load_config_data(family: Family, text: str, source: str = "YAML") -> Any:
    """The plain data of YAML text, read with the editor's rules but not validated yet (the
    Launch page expands page-level keys such as ``age_groups`` before validating)."""
    return _load_yaml(family, text, source)
