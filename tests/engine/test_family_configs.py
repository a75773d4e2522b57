"""Defaults live once: every registered family's ``configs/<family>.yaml`` is its pydantic model's
defaults, each key commented ``# (type) meaning``, nothing more."""
from __future__ import annotations

import re

import pytest

from engine.configs import CONFIG_DIR, default_config
from engine.families import BUILTIN, FAMILIES
from engine.safeio import load_yaml

KEYED = re.compile(r"^(?P<key>[A-Za-z_]\w*):(?: \S.*?)?  # \((?P<type>.+?)\) (?P<meaning>\S.*)$")


def test_every_built_in_family_ships_a_defaults_file():
    missing = [f.key for f in BUILTIN if not (CONFIG_DIR / f"{f.key}.yaml").exists()]
    assert not missing, f"built-in families without configs/<key>.yaml: {missing}"


# families that ship a defaults file (a plugin such as the toy may not: its YAML editor shows the
# model's dump)
@pytest.mark.parametrize("key", [k for k in FAMILIES if (CONFIG_DIR / f"{k}.yaml").exists()])
def test_defaults_file_is_the_model_with_a_comment_per_key(key):
    family = FAMILIES[key]
    model = family.config_model
    text = (CONFIG_DIR / f"{key}.yaml").read_text()
    defaults = model().model_dump(mode="json")
    assert load_yaml(text) == defaults  # every field, the model's default, no extra key, no duplicate
    keyed = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert len(keyed) == len(model.model_fields), "one line per key (no block values, no stray lines)"
    bad = [line for line in keyed if not KEYED.match(line)]
    assert not bad, f"lines without a '  # (type) meaning' comment: {bad}"
    assert sorted(KEYED.match(line)["key"] for line in keyed) == sorted(model.model_fields)
    assert default_config(family) == defaults
