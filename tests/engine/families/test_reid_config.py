"""The reid config: commented defaults file equals the model, typos and bad choices name the key."""
from __future__ import annotations

import re

import pytest
import yaml

from engine.configs import CONFIG_DIR, ConfigError, default_config, validate_config
from engine.families import FAMILIES
from engine.families.reid.config import ReidConfig, uses_identity_sampler


def test_defaults_file_equals_the_model_and_comments_every_key():
    text = (CONFIG_DIR / "reid.yaml").read_text()
    assert yaml.safe_load(text) == ReidConfig().model_dump(mode="json")
    keys = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    assert len(keys) == len(ReidConfig.model_fields)
    assert all(re.search(r"  # \(.+\) \S", ln) for ln in keys), [ln for ln in keys if "# (" not in ln]
    assert default_config(FAMILIES["reid"]) == ReidConfig().model_dump(mode="json")


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
