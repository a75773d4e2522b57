"""``sweep FAMILY``: queue a sweep (``jobs.sweeps.submit_sweep``) and follow it until it ends."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from cli import dataset_named

__all__ = ["add_parser"]

DESCRIPTION = ("Queue a sweep: every trial is a run that any worker picks up (start workers with `make run` or "
               "`python -m jobs.worker`). Space syntax: configs/sweeps/<family>.yaml.")


def add_parser(sub) -> None:
    from engine.families import FAMILIES

    sweep = sub.add_parser("sweep", help="queue a hyper-parameter sweep and follow it (sweep FAMILY --help)",
                           description=DESCRIPTION)
    families = sweep.add_subparsers(dest="family", required=True, metavar="FAMILY")
    for key, family in FAMILIES.items():
        p = families.add_parser(key, help=family.title, description=DESCRIPTION)
        p.add_argument("--space", type=Path, required=True, help="sweep YAML (method, space, metric, ...)")
        p.add_argument("--dataset", help="dataset name")
        p.add_argument("--trials", type=int, help="max_trials (overrides the file)")
        p.add_argument("--parallel", type=int, help="trials queued at once (overrides the file)")
        p.add_argument("--method", choices=["grid", "random", "guided"], help="overrides the file")
        p.add_argument("--config", type=Path, help="YAML of base config overrides for every trial")
        p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="base config override")
        p.add_argument("--override", action="store_true", help="launch even if the data sufficiency gate says no")
        p.add_argument("--no-wait", action="store_true", help="queue and return instead of following progress")
        p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from engine.configs import ConfigError, config_overrides, default_config
    from engine.families import FAMILIES
    from engine.safeio import read_text
    from engine.sweeps import parse_sweep_yaml, validate_spec
    from jobs.api import QueueUnavailable
    from jobs.sweeps import SweepBlocked, submit_sweep

    family = FAMILIES[args.family]
    try:
        spec = parse_sweep_yaml(read_text(args.space))
        changes = {k: v for k, v in (("max_trials", args.trials), ("parallel", args.parallel),
                                     ("method", args.method)) if v is not None}
        if changes:
            spec = validate_spec({**spec.model_dump(), **changes})
        base = config_overrides(family, default_config(family), args.config, args.set)
        dataset_id = None
        if args.dataset:
            ds = dataset_named(args.dataset)
            if ds is None:
                print(f"error: no dataset named {args.dataset!r}", file=sys.stderr)
                return 2
            dataset_id = ds.id
        sweep = submit_sweep(family=family.key, spec=spec, base=base, dataset_id=dataset_id, override=args.override)
    except (ConfigError, SweepBlocked, QueueUnavailable, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"sweep {sweep.id} ({sweep.name}): {sweep.method}, up to {sweep.max_trials} trials, "
          f"{sweep.parallel} at a time, {sweep.direction} {sweep.metric}")
    if args.no_wait:
        return 0
    return _follow(sweep.id)


def _follow(sweep_id: int) -> int:
    from db import queries
    from db.models import FINISHED
    from db.session import session_scope

    seen = -1
    while True:
        with session_scope() as s:
            sweep = queries.get_sweep(session=s, sweep_id=sweep_id)
            runs = queries.sweep_runs(session=s, sweep_id=sweep_id)
        done = [r for r in runs if r.status in FINISHED]
        scored = [(r.summary.get(sweep.metric), r) for r in done if isinstance(r.summary.get(sweep.metric), float)]
        if len(done) != seen:
            seen = len(done)
            line = f"  {len(done)}/{sweep.max_trials} done, {len(runs) - len(done)} running or queued"
            if scored:
                pick = max if sweep.direction == "maximize" else min
                value, best = pick(scored, key=lambda t: t[0])
                line += f" · best {sweep.metric}={value:.5g} (run {best.id}, trial {best.trial_number})"
            print(line, flush=True)
        if sweep.status != "running" and len(done) == len(runs):
            print(f"sweep {sweep.id}: {sweep.status}")
            return 0
        time.sleep(2)
