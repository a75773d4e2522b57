"""``python -m engine train anomaly``: the options anomaly adds to the generic ``train`` (``cli.train``).

    python -m engine train anomaly --dataset NAME [--age-groups 3-6,6-9,9-12] [--min-samples 10]
                                   [--force] [--override] [--config FILE.yaml] [--set key=value ...]
                                   [--skip-training]

One run per age group. Without ``--age-groups`` (and no ``age_group`` or ``age_groups`` in the
config) the groups come from the dataset's age distribution (``age_groups: auto``, as on the Data
Sufficiency page). Groups with an active model trained on this dataset are skipped unless
``--force``; groups below ``min_samples`` normal drawings are skipped with the reason
(``--override`` trains them anyway, as the Launch page's override box does). ``--skip-training``
computes (and stores) the missing embeddings of the groups' drawings for the config's backbone
and trains nothing, as the seed's ``train_models.py --skip-training`` did.

Declarations only: the generic ``train`` does the work (this module imports neither db nor jobs).
"""
from __future__ import annotations

import argparse
from typing import Any

__all__ = ["cli_arguments", "cli_config", "skip_trained", "prepare_only", "prepare"]


def cli_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--age-groups", help="comma-separated LO-HI ranges, e.g. 3-6,6-9,9-12, or auto "
                                             "(default: auto, from the dataset's ages)")
    parser.add_argument("--min-samples", type=int, help="fewest normal drawings per group (default: the config's, 10)")
    parser.add_argument("--force", action="store_true", help="retrain groups that already have an active model")
    parser.add_argument("--skip-training", action="store_true",
                        help="only compute and store the missing embeddings of the groups' drawings (backbone, "
                             "embed_batch_size, num_workers from the config); train nothing")


def cli_config(args: argparse.Namespace, data: dict[str, Any]) -> dict[str, Any]:
    """The config data with the options folded in (``age_groups`` expands to one run per group)."""
    data = dict(data)
    if args.age_groups:
        data["age_groups"] = args.age_groups
    elif "age_group" not in data and "age_groups" not in data:
        data["age_groups"] = "auto"
    if args.min_samples is not None:
        data["min_samples"] = args.min_samples
    return data


def skip_trained(args: argparse.Namespace) -> bool:
    """Skip groups that already have an active model trained on this dataset, unless ``--force``."""
    return not args.force


def prepare_only(args: argparse.Namespace) -> bool:
    """``--skip-training``: the generic ``train`` runs ``prepare`` for each planned run instead."""
    return bool(args.skip_training)


def prepare(config: Any, dataset: Any, *, stores: dict[str, Any], device: str,
            progress: Any = None) -> dict[str, float]:
    """Embed the planned run's age group's drawings that have no vector for its backbone yet."""
    from engine.families.anomaly.embeddings import ensure_embeddings
    from engine.families.anomaly.sufficiency import samples_in_group
    from engine.stores import EMBEDDINGS

    rows = samples_in_group(dataset.samples, config.age_range)
    store = stores[EMBEDDINGS]
    computed = ensure_embeddings(store, config.backbone, rows, root=dataset.root, batch_size=config.embed_batch_size,
                                 device=device, progress=progress, num_workers=config.num_workers,
                                 pin_memory=config.pin_memory)
    missing = len(store.missing(backbone=config.backbone, sample_ids=[r.id for r in rows]))
    return {"drawings": float(len(rows)), "embedded_now": float(computed), "missing": float(missing)}
