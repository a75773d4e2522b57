"""The ``anomaly`` family: one autoencoder per age group over ViT embeddings of children's
drawings, and its ``drawings`` dataset kind.

This module stays light (pages import it through the registry); torch and transformers are
imported only by ``backbone``, ``embeddings``, ``trainer`` and ``predict``, which run on workers.
"""
from __future__ import annotations

from engine.core import Conformance, Family, Headline
from engine.datasets import DatasetKind, register_kind

__all__ = ["FAMILY", "KIND"]

KIND = register_kind(DatasetKind(
    key="drawings", title="Children's drawings: images + metadata (age_years, subject, expert_label)",
    scan_path="engine.families.anomaly.data:scan", sample_path="engine.families.anomaly.samples:generate"))

FAMILY = Family(
    key="anomaly", title="Drawing anomaly detection (ViT embeddings + autoencoder per age group)",
    config_path="engine.families.anomaly.config:AnomalyConfig",
    trainer_path="engine.families.anomaly.trainer:AnomalyTrainer",
    dataset_kind="drawings", tasks=(),
    description="One autoencoder per age group over ViT CLS embeddings plus normalised age. Threshold = "
                "95th percentile of validation reconstruction error; AUROC, precision and recall against "
                "expert labels. Several age groups launch one run each.",
    gate_path="engine.families.anomaly.sufficiency:launch_blockers",
    # names as the trainer's summary has them; val/loss ranks (AUROC exists only with expert labels)
    headlines=(Headline("val/loss", "min", "val reconstruction loss"), Headline("val/auroc", "max", "AUROC"),
               Headline("threshold", "", "threshold"), Headline("val/precision", "max", "precision"),
               Headline("val/recall", "max", "recall")),
    evaluator_path="engine.families.anomaly.evaluate:evaluate",
    eval_splits_path="engine.families.anomaly.splits:eval_splits",
    conformance=Conformance(
        config={"age_group": "3-12", "epochs": 1500, "patience": 0, "batch_size": 16, "hidden_dims": [32, 16],
                "latent_dim": 4, "backbone": "tiny-vit", "min_samples": 5},
        step_metric="train/loss", steps=tuple(range(1500)),
        sample_options={"count": 60, "size": 64, "seed": 3}))
