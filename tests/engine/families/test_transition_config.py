"""The transition config: bounds, choices, cross-field checks (its defaults file:
tests/engine/test_family_configs.py)."""
from __future__ import annotations

import pytest

from engine.configs import ConfigError, parse_config_yaml, validate_config
from engine.families import FAMILIES

FAMILY = FAMILIES["transition"]


@pytest.mark.parametrize("data, field", [
    ({"token_type": "pixel"}, "token_type"), ({"d_model": 0}, "d_model"), ({"lr": float("nan")}, "lr"),
    ({"max_epochs": 0}, "max_epochs"), ({"precision": "8"}, "precision"), ({"bogus": 1}, "bogus"),
    ({"smooth_l1_beta": 0}, "smooth_l1_beta"), ({"accumulate_grad_batches": 0}, "accumulate_grad_batches"),
])
def test_bad_values_name_their_key(data, field):
    with pytest.raises(ConfigError) as exc:
        validate_config(FAMILY, data)
    assert any(e.field == field for e in exc.value.errors), exc.value.errors


def test_cross_field_rules():
    with pytest.raises(ConfigError, match="must divide"):
        validate_config(FAMILY, {"d_model": 30, "num_heads": 4})
    with pytest.raises(ConfigError, match="must be 1"):
        validate_config(FAMILY, {"train_ratio": 0.8, "val_ratio": 0.15, "test_ratio": 0.15})
    with pytest.raises(ConfigError, match="at least one patient in test_patients"):
        validate_config(FAMILY, {"manual_splits": True, "train_patients": ["a"], "val_patients": ["b"]})
    cfg = parse_config_yaml(FAMILY, "manual_splits: true\ntrain_patients: a, b\nval_patients: [c]\ntest_patients: d\n")
    assert cfg.train_patients == ["a", "b"] and cfg.test_patients == ["d"]


def test_family_declares_its_headlines():
    assert [(h.name, h.direction) for h in FAMILY.headlines] == [("val/main_task_loss", "min"),
                                                                  ("test/mae_mean", "min")]
