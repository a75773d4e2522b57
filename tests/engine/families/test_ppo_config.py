"""The ppo config (its defaults file: tests/engine/test_family_configs.py): typos and out-of-range values
are rejected with the key's name, and the rollout/batch relation is checked."""
from __future__ import annotations

import pytest

from engine.configs import ConfigError, validate_config
from engine.families import FAMILIES
from engine.families.ppo.config import PpoConfig
from engine.families.ppo.params import DEFAULTS, PARAMS, denormalise, normalise

PPO_OPTIONS = ("learning_rate n_steps batch_size n_epochs gamma gae_lambda clip_range ent_coef vf_coef max_grad_norm "
               "net_arch n_envs total_timesteps seed device max_steps size_penalty time_penalty eval_freq").split()


def test_the_model_has_every_ppo_option_and_the_category_targets():
    assert set(PPO_OPTIONS) <= set(PpoConfig.model_fields)
    assert [PpoConfig().target(c) for c in ("simple", "text", "gradient", "complex")] == [0.85, 0.80, 0.75, 0.70]


@pytest.mark.parametrize("data, words", [
    ({"learnig_rate": 0.1}, ["learnig_rate: unknown key"]),
    ({"gamma": 1.5}, ["gamma", "less than or equal to 1"]),
    ({"clip_range": float("nan")}, ["clip_range"]),
    ({"eval_sampling": "greedy"}, ["eval_sampling", "'round_robin'"]),
    ({"curriculum_order": ["simple", "simple"]}, ["curriculum_order", "distinct"]),
    ({"curriculum_order": ["simple", "logos"]}, ["curriculum_order.1"]),
    ({"n_steps": 16, "batch_size": 64}, ["batch_size 64 is larger than a rollout"]),
    ({"net_arch": [64, 0]}, ["net_arch.1"]),
    ({"total_timesteps": 10**12}, ["total_timesteps"]),
])
def test_bad_values_name_the_key(data, words):
    with pytest.raises(ConfigError) as err:
        validate_config(FAMILIES["ppo"], data)
    assert all(w in str(err.value) for w in words), str(err.value)


def test_parameter_space_round_trips_and_clips_to_vtracer_ranges():
    assert denormalise(normalise(DEFAULTS)) == DEFAULTS
    low, high = denormalise([-5] * len(PARAMS)), denormalise([5] * len(PARAMS))
    assert all(low[p.name] == p.lo and high[p.name] == p.hi for p in PARAMS)
    assert all(isinstance(high[p.name], int) for p in PARAMS if p.integer)
