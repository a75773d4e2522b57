"""The anomaly config: YAML defaults equal the model's, typos and bad age groups are refused."""
from __future__ import annotations

import pytest
import yaml

from engine.configs import CONFIG_DIR, ConfigError, validate_config
from engine.families import FAMILIES
from engine.families.anomaly.config import AnomalyConfig, parse_age_groups, scope_for_age


def test_yaml_defaults_equal_the_model_defaults_and_every_key_is_commented():
    text = (CONFIG_DIR / "anomaly.yaml").read_text()
    assert yaml.safe_load(text) == AnomalyConfig().model_dump(mode="json")
    keyed = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert len(keyed) == len(AnomalyConfig.model_fields)
    assert all("  # (" in line for line in keyed), [line for line in keyed if "  # (" not in line]


def test_unknown_key_and_bad_values_are_named():
    family = FAMILIES["anomaly"]
    with pytest.raises(ConfigError) as exc:
        validate_config(family, {"latent_dims": 8, "optimizer": "rmsprop"})
    fields = {e.field for e in exc.value.errors}
    assert fields == {"latent_dims", "optimizer"}
    with pytest.raises(ConfigError, match="age_group"):
        validate_config(family, {"age_group": "6-3"})
    with pytest.raises(ConfigError, match="must be 1"):
        validate_config(family, {"train_split": 0.9, "val_split": 0.2, "test_split": 0.1})
    assert validate_config(family, {"age_group": " 3 - 6.5 "}).age_group == "3-6.5"


def test_age_groups_parse_refuse_overlaps_and_pick_the_scope_of_an_age():
    assert [g.label for g in parse_age_groups("3-6, 6-9,9-12")] == ["3-6", "6-9", "9-12"]
    with pytest.raises(ValueError, match="overlap"):
        parse_age_groups("3-7,6-9")
    with pytest.raises(ValueError, match="outside"):
        parse_age_groups("1-4")
    assert scope_for_age(["3-6", "6-9"], 5.9) == "3-6"
    assert scope_for_age(["3-6", "6-9"], 6.0) == "6-9"
    assert scope_for_age(["3-6", "6-9"], 9.0) is None
    assert scope_for_age(["12-18"], 18.0) == "12-18"  # the top of the accepted range belongs to its group
