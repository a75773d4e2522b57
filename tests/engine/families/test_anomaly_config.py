"""The anomaly config: typos and bad age groups are refused; ``age_groups`` expands to one run
per group (its defaults file: tests/engine/test_family_configs.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.configs import ConfigError, validate_config
from engine.core import DatasetRef, SampleRow
from engine.families import FAMILIES
from engine.families.anomaly.config import AnomalyConfig, parse_age_groups, scope_for_age


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


def test_age_groups_expand_to_one_config_per_group_and_auto_reads_the_dataset():
    assert AnomalyConfig.expand({"lr": 0.01}) == [{"lr": 0.01}]
    assert AnomalyConfig.expand({"lr": 0.01, "age_groups": ["3-6", "6-9"]}) == \
        [{"lr": 0.01, "age_group": "3-6"}, {"lr": 0.01, "age_group": "6-9"}]
    assert [d["age_group"] for d in AnomalyConfig.expand({"age_groups": " 9-12, 12-15"})] == ["9-12", "12-15"]
    for data, words in [({"age_groups": "3-6,5-9"}, "overlap"),
                        ({"age_groups": ["3-6"], "age_group": "6-9"}, "not both"),
                        ({"age_groups": "auto"}, "needs a dataset")]:
        with pytest.raises(ConfigError) as exc:
            AnomalyConfig.expand(data)
        assert [e.field for e in exc.value.errors] == ["age_groups"] and words in str(exc.value)
    ages = [3.5] * 50 + [7.2] * 50
    ref = DatasetRef(name="d", kind="drawings", root=Path("."), id=1,
                     samples=tuple(SampleRow(id=i, path=f"{i}.png", group_value=a) for i, a in enumerate(ages)))
    groups = [d["age_group"] for d in AnomalyConfig.expand({"age_groups": "auto"}, ref)]
    assert groups and all(AnomalyConfig(age_group=g).run_label() == g for g in groups)
    for age in (3.5, 7.2):
        assert any(parse_age_groups(g)[0].contains(age) for g in groups)
    with pytest.raises(ConfigError, match="no ages"):
        AnomalyConfig.expand({"age_groups": "auto"}, DatasetRef(name="e", kind="drawings", root=Path(".")))
