"""The yolo config (its defaults file: tests/engine/test_family_configs.py): typos are rejected, model yaml names."""
from __future__ import annotations

import pytest

from engine.configs import ConfigError, validate_config
from engine.families import FAMILIES
from engine.families.yolo.config import TRAIN_ARGS, YoloConfig


def test_seed_arguments_are_all_there_and_passed_to_ultralytics():
    seeds = ("epochs batch imgsz lr0 lrf momentum weight_decay warmup_epochs warmup_momentum optimizer patience "
             "save_period cache workers seed box cls dfl hsv_h hsv_s hsv_v degrees translate scale shear "
             "perspective flipud fliplr mosaic mixup copy_paste").split()
    assert set(seeds) <= set(TRAIN_ARGS)
    assert set(YoloConfig().train_args()) == set(TRAIN_ARGS)


def test_unknown_keys_and_bad_choices_name_the_key():
    with pytest.raises(ConfigError) as err:
        validate_config(FAMILIES["yolo"], {"task": "pose", "lr": 0.1, "variant": "q"})
    text = str(err.value)
    assert "task" in text and "'classify'" in text and "lr: unknown key" in text and "variant" in text


@pytest.mark.parametrize("cfg, expected", [
    ({}, "yolo11n.yaml"),
    ({"task": "segment", "variant": "s"}, "yolo11s-seg.yaml"),
    ({"task": "classify", "variant": "x", "arch": "yolov8"}, "yolov8x-cls.yaml"),
    ({"model": "yolov8n.yaml"}, "yolov8n.yaml"),
])
def test_model_source(cfg, expected):
    assert YoloConfig(**cfg).model_source() == expected


def test_model_file_resolves_inside_the_models_folder(stack):
    from engine.trust import models_dir

    (models_dir() / "mine.pt").write_bytes(b"weights")
    assert YoloConfig(model="mine.pt").model_source() == str(models_dir() / "mine.pt")
    with pytest.raises(ValueError, match="outside the models folder"):
        YoloConfig(model="/models/mine.pt")
