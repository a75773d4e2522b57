"""The reid config (its defaults file: tests/engine/test_family_configs.py): typos and bad choices name the key."""
from __future__ import annotations

import pytest

from engine.configs import ConfigError, validate_config
from engine.families import FAMILIES
from engine.families.reid.config import ReidConfig, uses_identity_sampler


def test_registry_entry_declares_rank1_then_map():
    family = FAMILIES["reid"]
    assert [(h.name, h.direction) for h in family.headlines] == [("val/rank1", "max"), ("val/mAP", "max")]
    assert family.dataset_kind == "market1501" and family.gate_path


def test_unknown_keys_bad_choices_and_bounds_name_the_key():
    with pytest.raises(ConfigError) as err:
        validate_config(FAMILIES["reid"], {"model": "resnet50", "loss": "arcface", "learning_rate": 1,
                                           "lr": float("nan"), "epochs": 0, "transforms": ["random_flip", "mixup"],
                                           "open_layers": ["head"]})
    text = str(err.value)
    for key in ("model:", "loss:", "learning_rate: unknown key", "lr:", "epochs:", "transforms.1:", "open_layers.0:"):
        assert key in text, (key, text)
    assert "'osnet_x0_25'" in text


@pytest.mark.parametrize("data, words", [
    ({"loss": "triplet", "weight_t": 0, "weight_x": 0}, r"weight_t \+ weight_x"),
    ({"loss": "triplet", "batch_size": 8, "num_instances": 16}, "at least num_instances"),
    ({"milestones": [50, 30]}, "milestones must be increasing"),
])
def test_inconsistent_combinations_are_refused(data, words):
    with pytest.raises(ConfigError, match=words):
        validate_config(FAMILIES["reid"], data)


def test_sampler_follows_the_loss_unless_chosen():
    assert uses_identity_sampler(ReidConfig(loss="triplet"))
    assert not uses_identity_sampler(ReidConfig(loss="softmax"))
    assert uses_identity_sampler(ReidConfig(loss="softmax", sampler="RandomIdentitySampler"))
