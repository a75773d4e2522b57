"""The ``yolo`` family: Ultralytics YOLO classify, detect and segment, and its dataset kind.

This module stays light (pages import it through the registry); Ultralytics is imported only
by ``trainer`` and ``predict``, which run on workers.
"""
from __future__ import annotations

from engine.core import Conformance, Family, Headline
from engine.datasets import DatasetKind, register_kind

__all__ = ["FAMILY", "KIND"]

KIND = register_kind(DatasetKind(
    key="yolo", title="YOLO images + labels (detect, segment) or class folders (classify)",
    scan_path="engine.families.yolo.data:scan", sample_path="engine.families.yolo.samples:generate",
    sample_choices=(("task", ("detect", "segment", "classify")),)))

FAMILY = Family(
    key="yolo", title="YOLO (Ultralytics) classify / detect / segment",
    config_path="engine.families.yolo.config:YoloConfig",
    trainer_path="engine.families.yolo.trainer:YoloTrainer",
    dataset_kind="yolo", tasks=("classify", "detect", "segment"),
    description="Ultralytics YOLO, variants n/s/m/l/x built from the model yaml (or your local .pt). "
                "Metrics: P, R, mAP50, mAP50-95 (mask metrics for segment); top1/top5 for classify.",
    gate_path="engine.families.yolo.sufficiency:launch_blockers",
    # names as callbacks.rename_metrics writes them; segment ranks by mask quality, the box follows
    headlines=(Headline("val/mAP50-95", "max", "mAP50-95", task="detect"),
               Headline("val/mask_mAP50-95", "max", "mask mAP50-95", task="segment"),
               Headline("val/mAP50-95", "max", "box mAP50-95", task="segment"),
               Headline("val/top1", "max", "top-1 accuracy", task="classify"),
               Headline("val/top5", "max", "top-5 accuracy", task="classify"),
               Headline("val/mAP50", "max", "mAP50", task="detect"),
               Headline("val/precision", "max", "precision", task="detect"),
               Headline("val/recall", "max", "recall", task="detect")),
    evaluator_path="engine.families.yolo.evaluate:evaluate",
    eval_splits_path="engine.families.yolo.evaluate:eval_splits",
    conformance=Conformance(
        config={"task": "detect", "epochs": 3, "imgsz": 64, "batch": 8, "workers": 0, "device": "cpu",
                "min_per_class": 0},
        step_metric="val/mAP50", steps=(0, 1, 2), sample_options={"task": "detect", "count": 24, "size": 64}))
