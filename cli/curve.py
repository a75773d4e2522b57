"""``learning-curve FAMILY --dataset NAME``: queue a learning-curve study
(``jobs.learning_curves.submit_study``: one run per data fraction and repeat), follow it, and print
each group's curve and what doubling the data is expected to bring."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from cli import dataset_named

__all__ = ["add_parser"]

DESCRIPTION = ("Would more data help? Queue one run per (data fraction, repeat) on a stratified subset of the "
               "training split (validation and test unchanged), then fit err ≈ a·n^-b + c to the family's ranking "
               "headline against training-set size. Workers run the runs (`make run` or `python -m jobs.worker`).")


def add_parser(sub) -> None:
    from engine.families import FAMILIES
    from jobs.learning_curves import DEFAULT_FRACTIONS, DEFAULT_REPEATS, MAX_REPEATS

    curve = sub.add_parser("learning-curve", help="queue a learning-curve study and follow it (learning-curve FAMILY "
                                                  "--help)", description=DESCRIPTION)
    families = curve.add_subparsers(dest="family", required=True, metavar="FAMILY")
    for key, family in FAMILIES.items():
        p = families.add_parser(key, help=family.title, description=DESCRIPTION)
        p.add_argument("--dataset", required=bool(family.dataset_kind), help="dataset name")
        p.add_argument("--fractions", default=",".join(f"{f:g}" for f in DEFAULT_FRACTIONS),
                       help="comma-separated shares of the training split, each in (0, 1] (default %(default)s)")
        p.add_argument("--repeats", type=int, default=DEFAULT_REPEATS,
                       help=f"runs per fraction, seeds seed..seed+repeats-1 (1-{MAX_REPEATS}; default %(default)s)")
        p.add_argument("--config", type=Path, help="YAML of base config overrides for every run")
        p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="base config override")
        p.add_argument("--name", default="", help="study name")
        p.add_argument("--override", action="store_true", help="queue even if the data sufficiency gate says no")
        p.add_argument("--no-wait", action="store_true", help="queue and return instead of following the study")
        p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from engine.configs import ConfigError
    from jobs.api import QueueUnavailable
    from jobs.learning_curves import StudyBlocked, parse_fractions, submit_study

    try:
        parse_fractions(args.fractions)  # a bad fraction is said first, whatever else is wrong
    except ConfigError as exc:
        print(f"error: nothing was queued: {exc}", file=sys.stderr)
        return 2
    dataset_id = None
    if args.dataset:
        ds = dataset_named(args.dataset)
        if ds is None:
            print(f"error: no dataset named {args.dataset!r}", file=sys.stderr)
            return 2
        dataset_id = ds.id
    try:
        study = submit_study(args.family, dataset_id=dataset_id, config=args.config, overrides=args.set,
                             fractions=args.fractions, repeats=args.repeats, name=args.name, override=args.override)
    except StudyBlocked as exc:
        print("error: nothing was queued; the data sufficiency gate refuses:", file=sys.stderr)
        for reason in exc.reasons:
            print(f"  - {reason}", file=sys.stderr)
        return 2
    except (ConfigError, QueueUnavailable, LookupError, OSError, ValueError) as exc:
        print(f"error: nothing was queued: {exc}", file=sys.stderr)
        return 2
    print(f"learning curve {study.id} ({study.name}): {study.max_trials} runs, fractions "
          f"{', '.join(f'{f:g}' for f in study.space['fractions'])} × {study.space['repeats']} repeat(s), "
          f"headline {study.metric}")
    if args.no_wait:
        return 0
    return _follow(study.id)


def _follow(study_id: int) -> int:
    from jobs.learning_curves import study_result

    seen = -1
    while True:
        result = study_result(study_id)
        if result.finished != seen:
            seen = result.finished
            print(f"  {result.finished}/{len(result.runs)} runs finished", flush=True)
        if result.sweep.status != "running" and result.finished == len(result.runs):
            break
        time.sleep(2)
    print(f"learning curve {study_id}: {result.sweep.status}; {result.label} against {result.size_key}")
    for group in result.groups:
        print(f"[{group.label or 'all'}]")
        for p in group.points:
            print(f"  n={p.n:g}: {p.mean:.5g} (min {p.low:.5g}, max {p.high:.5g}, {len(p.values)} run(s))")
        print(f"  {group.sentence}")
    return 0
