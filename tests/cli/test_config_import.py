"""``python -m engine config import FAMILY FILE``: a seed system's nested config (as its users
wrote it, see ``shared/seeds``) maps to the family's flat config, which validates; every key is
reported as mapped, renamed, dropped (with the reason) or unknown; nothing is silently ignored."""
from __future__ import annotations

import pytest
import yaml

from cli import main
from engine.config_import import import_seed_config
from engine.configs import validate_config
from engine.families import FAMILIES

ANOMALY = """
job_name: advanced_autoencoder_training
experiment_name: drawing_anomaly_detection_v2
device: auto
mixed_precision: true
model:
  encoder_dim: 512
  hidden_dims: [512, 256, 128, 64, 32]
  latent_dim: 16
  dropout_rate: 0.15
  activation: relu
  batch_norm: true
epochs: 200
early_stopping_patience: 20
early_stopping_min_delta: 1.0e-5
gradient_clip_norm: 1.0
optimizer:
  type: OptimizerType.ADAMW
  learning_rate: 0.0005
  weight_decay: 0.0001
  betas: [0.9, 0.999]
scheduler:
  type: SchedulerType.COSINE
  T_max: 200
data:
  batch_size: 64
  num_workers: 4
  pin_memory: true
  train_split: 0.7
  validation_split: 0.2
  test_split: 0.1
  stratify_by_age: true
  age_group_size: 0.5
validation_frequency: 1
checkpoint_frequency: 10
save_best_only: true
log_frequency: 5
save_plots: true
plot_frequency: 10
output_dir: outputs/advanced_training
colour_jitter: 0.3
"""

PPO = """
experiment_name: logo_optimization_v1
data_root_path: data/logos
use_curriculum: true
max_training_steps: 50000
validation_frequency: 5000
checkpoint_frequency: 1000
enable_resource_monitoring: true
validation_split_ratio: 0.2
images_per_category: 10
batch_size: 32
quality_thresholds: {simple: 0.9, text: 0.85, gradient: 0.8, complex: 0.75}
checkpoint_manager:
  max_checkpoints: 10
  monitor_metric: quality_score
validation:
  episodes: 3
model_config:
  learning_rate: 0.0003
  n_steps: 2048
  gamma: 0.99
reward_shaping: quadratic
"""

TRANSITION = """
model:
  d_model: 768
  num_heads: 12
  num_layers: 6
  token_type: channel
  lr: 2.0e-4
training:
  batch_size: 16
  max_epochs: 150
  early_stop_patience: 20
  precision: 16
  accumulate_grad_batches: 2
  num_workers: 4
loss:
  lambda_latent: 0.2
  lambda_t2_action: 1.0
  smooth_l1_beta: 1.0
  primary_task_only: false
data_dir: data/processed
output_dir: outputs
augmentation: random_crop
"""

SEEDS = {"anomaly": ANOMALY, "ppo": PPO, "transition": TRANSITION}
EXPECTED = {  # a few keys each seed file must land on, with Trainyard's name and value
    "anomaly": {"dropout": 0.15, "lr": 0.0005, "optimizer": "adamw", "scheduler": "cosine", "T_max": 200,
                "val_split": 0.2, "age_group_size": 0.5, "patience": 20, "select_model": "best", "num_workers": 4},
    "ppo": {"total_timesteps": 50000, "eval_freq": 5000, "eval_episodes": 3, "monitor_metric": "ssim",
            "keep_checkpoints": 10, "target_simple": 0.9, "learning_rate": 0.0003, "eval_images_per_category": 10},
    "transition": {"d_model": 768, "lr": 2e-4, "precision": "16-mixed", "max_epochs": 150, "num_workers": 4,
                   "token_type": "channel"},
}
UNKNOWN = {"anomaly": "colour_jitter", "ppo": "reward_shaping", "transition": "augmentation"}


@pytest.mark.parametrize("key", sorted(SEEDS))
def test_a_seed_style_nested_config_imports_and_the_mapped_config_validates(key, tmp_path, capsys):
    family = FAMILIES[key]
    result = import_seed_config(family, SEEDS[key])
    config = validate_config(family, result.data)
    for name, value in EXPECTED[key].items():
        assert getattr(config, name) == pytest.approx(value) if isinstance(value, float) else getattr(config, name) == value, name
    read = {o.source for o in result.outcomes}
    def leaves(d, prefix=""):
        return [p for k, v in d.items() for p in (leaves(v, f"{prefix}{k}.") if isinstance(v, dict) else [f"{prefix}{k}"])]
    assert read == set(leaves(yaml.safe_load(SEEDS[key])))  # every key accounted for
    assert [o.source.rpartition(".")[2] for o in result.by_action("unknown")] == [UNKNOWN[key]]
    assert all(o.why for o in result.by_action("dropped"))

    seed = tmp_path / "seed.yaml"
    seed.write_text(SEEDS[key])
    out = tmp_path / "trainyard.yaml"
    assert main(["config", "import", key, str(seed), "-o", str(out)]) == 1  # 1: a key was unknown
    shown = capsys.readouterr().out
    assert f"unknown  {UNKNOWN[key]}" in shown or UNKNOWN[key] in shown
    assert "renamed" in shown and "dropped" in shown
    written = validate_config(family, yaml.safe_load(out.read_text()))
    assert written == config
    assert "# (" in out.read_text()  # the family's comments kept


def test_a_value_the_family_cannot_take_is_dropped_with_the_reason():
    result = import_seed_config(FAMILIES["transition"], "training: {precision: 8}")
    (outcome,) = result.outcomes
    assert outcome.action == "dropped" and "not taken" in outcome.why and "16-mixed" not in result.data.values()


def test_a_refused_mapped_config_exits_2_naming_the_key(tmp_path, capsys):
    seed = tmp_path / "seed.yaml"
    seed.write_text("model: {dropout_rate: 3.0}\n")
    assert main(["config", "import", "anomaly", str(seed)]) == 2
    assert "dropout" in capsys.readouterr().err


@pytest.mark.parametrize("key, names", [
    ("ppo", ["eval_episodes", "eval_variation", "monitor_metric", "eval_patience", "checkpoint_every_s",
             "stage_checkpoints"]),
    ("anomaly", ["save_plots", "plot_frequency", "validation_frequency", "age_group_size", "T_max", "num_workers",
                 "pin_memory", "cpu_threads", "--skip-training"]),
    ("transition", ["num_workers", "persistent_workers", "debug_fraction", "min_free_disk_mb"]),
])
def test_train_family_help_lists_the_new_options(key, names):
    from cli import build_parser

    parser = build_parser()
    train = next(a for a in parser._actions if hasattr(a, "choices") and a.choices and "train" in a.choices)
    family = next(a for a in train.choices["train"]._actions if hasattr(a, "choices") and a.choices and key in a.choices)
    shown = family.choices[key].format_help()
    missing = [n for n in names if n not in shown]
    assert not missing, missing
