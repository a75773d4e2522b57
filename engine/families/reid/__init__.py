"""The ``reid`` family: OSNet person re-identification on torchreid, and its ``market1501``
dataset kind.

This module stays light (pages import it through the registry); torchreid and torch are
imported only by ``library``, ``loaders``, ``trainer`` and ``predict``, which run on workers.
"""
from __future__ import annotations

from engine.core import Conformance, Family, Headline
from engine.datasets import DatasetKind, register_kind

__all__ = ["FAMILY", "KIND"]

KIND = register_kind(DatasetKind(
    key="market1501", title="Person re-identification, Market-1501 layout (bounding_box_train, "
                            "bounding_box_test, query; PPPP_cCsS_FFFFFF_NN.jpg)",
    scan_path="engine.families.reid.data:scan", sample_path="engine.families.reid.samples:generate"))

FAMILY = Family(
    key="reid", title="Person re-identification (OSNet on torchreid)",
    config_path="engine.families.reid.config:ReidConfig",
    trainer_path="engine.families.reid.trainer:ReidTrainer",
    dataset_kind="market1501", tasks=(),
    description="OSNet (x1_0 … x0_25, IBN, AIN) trained with torchreid's softmax or triplet engine on the "
                "train identities; evaluated Market-1501 style, query against gallery of held-out identities: "
                "rank-1/5/10/20 (CMC) and mAP.",
    gate_path="engine.families.reid.sufficiency:launch_blockers",
    headlines=(Headline("val/rank1", "max", "rank-1"), Headline("val/mAP", "max", "mAP")),
    evaluator_path="engine.families.reid.evaluate:evaluate",
    eval_splits_path="engine.families.reid.evaluate:eval_splits",
    conformance=Conformance(
        config={"model": "osnet_x0_25", "height": 64, "width": 32, "epochs": 3, "eval_freq": 3, "batch_size": 16,
                "workers": 0, "cpu_threads": 1, "device": "cpu", "min_identities": 4, "min_images_per_identity": 1},
        step_metric="train/loss", steps=(0, 1, 2),
        sample_options={"identities": 16, "images_per_identity": 6, "height": 64, "width": 32, "seed": 0}))
