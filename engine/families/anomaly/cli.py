"""``python -m engine train anomaly``: the options anomaly adds to the generic ``train`` (``cli.train``).

    python -m engine train anomaly --dataset NAME [--age-groups 3-6,6-9,9-12] [--min-samples 10]
                                   [--force] [--override] [--config FILE.yaml] [--set key=value ...]

One run per age group. Without ``--age-groups`` (and no ``age_group`` or ``age_groups`` in the
config) the groups come from the dataset's age distribution (``age_groups: auto``, as on the Data
Sufficiency page). Groups with an active model trained on this dataset are skipped unless
``--force``; groups below ``min_samples`` normal drawings are skipped with the reason
(``--override`` trains them anyway, as the Launch page's override box does).

Declarations only: the generic ``train`` does the work (this module imports neither db nor jobs).
"""
from __future__ import annotations

import argparse
from typing import Any

__all__ = ["cli_arguments", "cli_config", "skip_trained"]


def cli_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--age-groups", help="comma-separated LO-HI ranges, e.g. 3-6,6-9,9-12, or auto "
                                             "(default: auto, from the dataset's ages)")
    parser.add_argument("--min-samples", type=int, help="fewest normal drawings per group (default: the config's, 10)")
    parser.add_argument("--force", action="store_true", help="retrain groups that already have an active model")


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
