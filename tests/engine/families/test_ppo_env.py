"""The VTracer environment: passes gymnasium's and SB3's checks, rewards a known improvement
and punishes a known loss, caches conversions; the curriculum advances as specified."""
from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from engine.families.ppo.curriculum import Curriculum
from engine.families.ppo.env import ENV_ID, OBS_SIZE, VTracerEnv, make_image
from engine.families.ppo.params import PARAM_NAMES
from engine.families.ppo.vectorize import Vectorizer


def _ramp(size: int = 48) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size] / (size - 1)
    return (np.stack([xx, 1 - xx, yy], -1) * 255).astype(np.uint8)


def _action(**moves: float) -> np.ndarray:
    return np.array([moves.get(n, 0.0) for n in PARAM_NAMES], np.float32)


def test_registered_env_passes_gymnasium_and_sb3_checks():
    env = gym.make(ENV_ID, max_steps=3)
    check_env(env.unwrapped, skip_render_check=True)
    sb3_check_env(VTracerEnv([make_image(_ramp(32), "gradient")]), warn=False)
    obs, info = env.reset(seed=1)
    assert obs.shape == (OBS_SIZE,) and env.observation_space.contains(obs) and 0 < info["ssim"] <= 1


def test_reward_follows_quality_gain_and_size():
    env = VTracerEnv([make_image(_ramp(), "gradient")], targets={"gradient": 0.99}, max_steps=5, size_penalty=0.0,
                     time_penalty=0.0)
    env.reset(seed=0)
    start = env.ssim
    # finer colours and gradient layers, no speckle filter: the ramp's bands shrink, SSIM rises
    _, reward, *_, info = env.step(_action(color_precision=1.0, layer_difference=-1.0, filter_speckle=-1.0))
    assert info["ssim"] > start + 0.05 and reward == info["ssim"] - start
    # back to coarse colours: SSIM falls, the reward is negative
    _, reward, *_ = env.step(_action(color_precision=-1.0, layer_difference=1.0, filter_speckle=1.0))
    assert reward < -0.05
    # the size penalty charges the growth of ln(SVG bytes)
    charged = VTracerEnv([make_image(_ramp(), "gradient")], targets={"gradient": 0.99}, size_penalty=1.0,
                         time_penalty=0.0)
    charged.reset(seed=0)
    _, reward, *_, info = charged.step(_action(color_precision=1.0, layer_difference=-1.0, filter_speckle=-1.0))
    assert info["svg_bytes"] > charged.vectorizer.convert(_ramp(), {}).svg_bytes
    assert reward < info["ssim"] - start - 1.0  # ln(bytes) grew by more than one


def test_target_ends_the_episode_with_a_bonus_and_max_steps_truncates():
    env = VTracerEnv([make_image(_ramp(), "gradient")], targets={"gradient": 0.3}, success_bonus=0.5,
                     size_penalty=0.0, time_penalty=0.0)
    env.reset(seed=0)
    _, reward, terminated, truncated, info = env.step(_action())
    assert terminated and not truncated and info["success"] and reward == 0.5  # same parameters: no gain
    env = VTracerEnv([make_image(_ramp(), "gradient")], targets={"gradient": 1.0}, max_steps=2)
    env.reset(seed=0)
    assert env.step(_action())[3] is False and env.step(_action())[3] is True


def test_repeated_states_are_served_from_the_cache(tmp_path):
    vec = Vectorizer(size=16, disk=tmp_path)
    env = VTracerEnv([make_image(_ramp(), "gradient")], vectorizer=vec, targets={"gradient": 1.0}, max_steps=10)
    env.reset(seed=0)
    env.step(_action(color_precision=1.0))
    misses = vec.misses
    for _ in range(3):  # already at the top of the range: the same parameters again
        env.step(_action(color_precision=1.0))
    env.reset(seed=0)
    assert vec.misses == misses and vec.hits >= 4
    fresh = Vectorizer(size=16, disk=tmp_path)  # a new process finds the results on disk
    again = fresh.convert(_ramp(), dict(zip(PARAM_NAMES, [8, 16, 60, 4.0, 10, 45, 4, 8])))
    assert fresh.misses == 0 and 0 < again.ssim <= 1


def test_curriculum_advances_on_success_or_budget_and_restores():
    cur = Curriculum(["simple", "text", "gradient"], threshold=0.75, window=4, budget_steps=100)
    for ok in (True, True, False, True):
        cur.record("simple", ok)
    cur.record("text", False)  # another category's episode does not count
    assert cur.success_rate == 0.75 and cur.maybe_advance(10) and cur.current == "text"
    assert cur.earlier == ["simple"] and not cur.maybe_advance(50)
    assert cur.maybe_advance(110) and cur.current == "gradient"  # the text stage's budget ran out
    assert not cur.maybe_advance(10_000)  # the last stage stays
    copy = Curriculum(["simple", "text", "gradient"], threshold=0.75, window=4, budget_steps=100)
    copy.load_state_dict(cur.state_dict())
    assert (copy.stage, copy.current, copy.stage_started) == (2, "gradient", 110)
