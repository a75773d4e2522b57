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

YOLO = """
job_name: advanced_person_detection
description: people on the shop floor
task_type: detect
projects: [3, 7]
model_size: yolov8s
train:
  data_config: src/dataset/yolo/data.yaml
  epochs: 200
  batch_size: 32
  image_size: 640
  project: src/infrastructure/yolo/projects
  name: advanced_person_detection
  patience: 50
  save_period: 10
  cache: true
  device: cpu
  workers: 8
  optimizer: AdamW
  lr0: 0.01
  lrf: 0.01
  momentum: 0.937
  weight_decay: 0.0005
  warmup_epochs: 3
  warmup_momentum: 0.8
  box: 7.5
  cls: 0.5
  dfl: 1.5
  resume: false
augmentation:
  hsv_h: 0.015
  hsv_s: 0.7
  hsv_v: 0.4
  degrees: 0.0
  translate: 0.1
  scale: 0.5
  fliplr: 0.5
  mosaic: 1.0
  mixup: 0.0
  copy_paste: 0.0
  multi_scale: true
split:
  train_ratio: 80
  random_seed: 7
"""

REID = """
use_gpu: true
model:
  name: osnet_ibn_x1_0
  pretrained: true
  load_weights: ''
  resume: ''
data:
  type: image
  root: src/dataset/osnet
  sources: [market1501]
  targets: [market1501]
  workers: 4
  split_id: 0
  height: 256
  width: 128
  combineall: false
  transforms: [random_flip, random_crop, normalize]
  k_tfm: 1
  norm_mean: [0.485, 0.456, 0.406]
  norm_std: [0.229, 0.224, 0.225]
  save_dir: log/osnet
  load_train_targets: false
sampler:
  train_sampler: RandomIdentitySampler
  num_instances: 4
train:
  optim: adam
  lr: 0.00035
  weight_decay: 0.0005
  max_epoch: 120
  start_epoch: 0
  batch_size: 64
  fixbase_epoch: 5
  open_layers: [classifier]
  staged_lr: false
  lr_scheduler: single_step
  stepsize: [20]
  gamma: 0.1
  print_freq: 20
  seed: 1
  warmup_epochs: 10
sgd:
  momentum: 0.9
  dampening: 0.0
  nesterov: false
adam:
  beta1: 0.9
  beta2: 0.999
loss:
  name: triplet
  softmax: {label_smooth: true}
  triplet: {margin: 0.3, weight_t: 1.0, weight_x: 1.0}
test:
  batch_size: 100
  dist_metric: euclidean
  normalize_feature: false
  ranks: [1, 5, 10, 20]
  evaluate: false
  eval_freq: 5
  start_eval: 0
  rerank: false
  visrank: true
  visrank_topk: 10
"""

SEEDS = {"anomaly": ANOMALY, "ppo": PPO, "transition": TRANSITION, "yolo": YOLO, "reid": REID}
EXPECTED = {  # a few keys each seed file must land on, with Trainyard's name and value
    "anomaly": {"dropout": 0.15, "lr": 0.0005, "optimizer": "adamw", "scheduler": "cosine", "T_max": 200,
                "val_split": 0.2, "age_group_size": 0.5, "patience": 20, "select_model": "best", "num_workers": 4},
    "ppo": {"total_timesteps": 50000, "eval_freq": 5000, "eval_episodes": 3, "monitor_metric": "ssim",
            "keep_checkpoints": 10, "target_simple": 0.9, "learning_rate": 0.0003, "eval_images_per_category": 10},
    "transition": {"d_model": 768, "lr": 2e-4, "precision": "16-mixed", "max_epochs": 150, "num_workers": 4,
                   "token_type": "channel"},
    "yolo": {"task": "detect", "variant": "s", "epochs": 200, "batch": 32, "imgsz": 640, "optimizer": "AdamW",
             "patience": 50, "cache": True, "train_ratio": 0.8, "seed": 7, "hsv_s": 0.7, "fliplr": 0.5},
    "reid": {"model": "osnet_ibn_x1_0", "weights": None, "epochs": 120, "optimizer": "adam", "lr": 0.00035,
             "scheduler": "single_step", "stepsize": 20, "batch_size": 64, "test_batch_size": 100,
             "sampler": "RandomIdentitySampler", "transforms": ["random_flip", "random_crop"], "loss": "triplet",
             "margin": 0.3, "label_smooth": True, "device": "auto", "workers": 4, "visrank": True, "fixbase_epoch": 5},
}
UNKNOWN = {"anomaly": "colour_jitter", "ppo": "reward_shaping", "transition": "augmentation", "yolo": "multi_scale",
           "reid": "warmup_epochs"}


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


@pytest.mark.parametrize("key, text, named", [
    ("reid", "data: {transforms: [random_flip, random_gray_scale, normalize]}", "random_gray_scale"),
    ("reid", "train: {stepsize: [30, 50]}", "milestones"),
    ("yolo", "train: {image_size: [640, 480]}", "square"),
    ("yolo", "model_size: huge", "n, s, m, l, x"),
])
def test_a_seed_value_yolo_or_reid_cannot_take_is_dropped_naming_why(key, text, named):
    result = import_seed_config(FAMILIES[key], text)
    (outcome,) = result.outcomes
    assert outcome.action == "dropped" and "not taken" in outcome.why and named in outcome.why
    assert result.data == {}


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
