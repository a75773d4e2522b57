"""``python -m engine``: offline data tools and training without the queue.

    python -m engine sample-data KIND [--name NAME] [options]  generate a sample dataset and import it
    python -m engine import KIND FOLDER --name NAME            scan a folder and import it
    python -m engine train FAMILY [family options]             train in this process, against the database
    python -m engine sweep FAMILY --space FILE.yaml [--dataset NAME] [--trials N]   a sweep (see --help)
    python -m engine runs show RUN_ID [--json]                 a run's manifest and recorded files

A family may add its own ``train`` options in ``engine/families/<key>/cli.py`` (``add_arguments``
and ``main``); otherwise ``train`` takes ``--dataset``, ``--config`` and ``--set key=value``.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys
from pathlib import Path

import yaml


def _import_cmd(args: argparse.Namespace) -> int:
    from jobs.datasets import import_dataset

    dataset, report = import_dataset(name=args.name, kind=args.kind, root=Path(args.folder), replace=args.replace)
    print(f"imported {dataset.name!r} ({dataset.kind}): {len(report.samples)} samples, "
          f"{len(report.problems)} problems")
    for problem in report.problems:
        print(f"  ! {problem}")
    return 0


def _sample_cmd(args: argparse.Namespace, extra: list[str]) -> int:
    from jobs.datasets import generate_sample_job

    options: dict[str, object] = {}
    it = iter(extra)
    for token in it:  # --count 300 --task detect → count=300, task="detect"
        if not token.startswith("--"):
            raise SystemExit(f"unexpected argument {token!r}")
        key, _, value = token[2:].partition("=")
        value = value or next(it, "")
        options[key.replace("-", "_")] = yaml.safe_load(value)
    info = generate_sample_job(args.kind, args.name, options)
    print(f"imported {info['name']!r}: {info['samples']} samples, {len(info['problems'])} problems")
    for problem in info["problems"]:
        print(f"  ! {problem}")
    return 0


def _config_keys(family) -> str:
    """``--help`` epilog: every config key with its default and meaning (``configs/<key>.yaml``)."""
    fields = family.config_model.model_fields
    lines = [f"config keys (defaults: configs/{family.key}.yaml):"]
    for name, field in fields.items():
        default = field.get_default(call_default_factory=True)
        lines.append(f"  {name} (default {default!r}): {field.description or ''}".rstrip(": "))
    return "\n".join(lines)


def _generic_train(family_key: str, argv: list[str]) -> int:
    from db import queries
    from db.migrate import upgrade
    from db.session import session_scope
    from engine.configs import ConfigError, config_overrides, default_config, validate_config
    from engine.core import LaunchBlocked
    from engine.families import FAMILIES
    from jobs.tasks import execute_run

    family = FAMILIES[family_key]
    parser = argparse.ArgumentParser(prog=f"python -m engine train {family_key}", description=family.description,
                                     epilog=_config_keys(family), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", help="dataset name")
    parser.add_argument("--config", type=Path, help="YAML file of config overrides")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override one config key (repeatable); the keys are listed below")
    parser.add_argument("--override", action="store_true",
                        help="train even when the data sufficiency gate refuses the launch")
    args = parser.parse_args(argv)
    try:
        data = config_overrides(family, default_config(family), args.config, args.set)
        config = validate_config(family, data)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    upgrade()
    with session_scope() as s:
        dataset_id = None
        if args.dataset:
            ds = queries.get_dataset_by_name(session=s, name=args.dataset)
            if ds is None:
                print(f"error: no dataset named {args.dataset!r}", file=sys.stderr)
                return 2
            dataset_id = ds.id
    try:
        from jobs.inputs import dataset_ref

        reasons = family.require_launchable(dataset_ref(dataset_id), config, override=args.override)
    except LaunchBlocked as exc:
        print("error: not enough data for this launch (--override trains anyway):", file=sys.stderr)
        for reason in exc.reasons:
            print(f"  - {reason}", file=sys.stderr)
        return 2
    for reason in reasons:
        print(f"warning: overriding the sufficiency gate: {reason}", file=sys.stderr)
    with session_scope() as s:
        run = queries.create_run(session=s, family=family_key, config=config.model_dump(mode="json"),
                                 dataset_id=dataset_id, task=getattr(config, "task", None))
    status = execute_run(run.id, capture=False)
    with session_scope() as s:
        done = queries.get_run(session=s, run_id=run.id)
    print(f"run {run.id}: {status}" + (f" — {done.error}" if done.error else ""))
    heads = [h for h in family.headlines_for(getattr(config, "task", None)) if h.name in done.summary]
    for h in heads:
        value = done.summary[h.name]
        shown = f"{value:.6g}" if isinstance(value, float) else value
        print(f"  {h.label or h.name}: {shown}  ({'lower' if h.direction == 'min' else 'higher'} is better)")
    for name, value in sorted(done.summary.items()):
        print(f"  {name}: {value:.6g}" if isinstance(value, float) else f"  {name}: {value}")
    return 0 if status == "completed" else 1


def _sweep_cmd(family_key: str, argv: list[str]) -> int:
    import time

    from db import queries
    from db.models import FINISHED
    from db.session import session_scope
    from engine.configs import ConfigError, default_config
    from engine.families import FAMILIES
    from engine.sweeps import parse_sweep_yaml, validate_spec
    from jobs.api import QueueUnavailable
    from jobs.sweeps import SweepBlocked, submit_sweep

    parser = argparse.ArgumentParser(
        prog=f"python -m engine sweep {family_key}",
        description="Queue a sweep: every trial is a run that any worker picks up (start workers with "
                    "`make run` or `python -m jobs.worker`). Space syntax: configs/sweeps/<family>.yaml.")
    parser.add_argument("--space", type=Path, required=True, help="sweep YAML (method, space, metric, ...)")
    parser.add_argument("--dataset", help="dataset name")
    parser.add_argument("--trials", type=int, help="max_trials (overrides the file)")
    parser.add_argument("--parallel", type=int, help="trials queued at once (overrides the file)")
    parser.add_argument("--method", choices=["grid", "random", "guided"], help="overrides the file")
    parser.add_argument("--config", type=Path, help="YAML of base config overrides for every trial")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="base config override")
    parser.add_argument("--override", action="store_true", help="launch even if the data sufficiency gate says no")
    parser.add_argument("--no-wait", action="store_true", help="queue and return instead of following progress")
    args = parser.parse_args(argv)
    family = FAMILIES[family_key]
    try:
        spec = parse_sweep_yaml(args.space.read_text())
        changes = {k: v for k, v in (("max_trials", args.trials), ("parallel", args.parallel),
                                     ("method", args.method)) if v is not None}
        if changes:
            spec = validate_spec({**spec.model_dump(), **changes})
        base = default_config(family)
        if args.config:
            base.update(yaml.safe_load(args.config.read_text()) or {})
        for item in args.set:
            key, _, value = item.partition("=")
            base[key] = yaml.safe_load(value)
        dataset_id = None
        if args.dataset:
            with session_scope() as s:
                ds = queries.get_dataset_by_name(session=s, name=args.dataset)
            if ds is None:
                print(f"error: no dataset named {args.dataset!r}", file=sys.stderr)
                return 2
            dataset_id = ds.id
        sweep = submit_sweep(family=family_key, spec=spec, base=base, dataset_id=dataset_id, override=args.override)
    except (ConfigError, SweepBlocked, QueueUnavailable, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"sweep {sweep.id} ({sweep.name}): {sweep.method}, up to {sweep.max_trials} trials, "
          f"{sweep.parallel} at a time, {sweep.direction} {sweep.metric}")
    if args.no_wait:
        return 0
    seen = -1
    while True:
        with session_scope() as s:
            sweep = queries.get_sweep(session=s, sweep_id=sweep.id)
            runs = queries.sweep_runs(session=s, sweep_id=sweep.id)
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


def _runs_cmd(args: argparse.Namespace) -> int:
    import json

    from jobs.run_report import run_record, run_report

    try:
        print(json.dumps(run_record(args.run_id), indent=2, default=str) if args.json else run_report(args.run_id))
    except LookupError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m engine", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("sample-data", help="generate and import a sample dataset")
    p.add_argument("kind")
    p.add_argument("--name", help="dataset name (default: sample-KIND)")
    p = sub.add_parser("import", help="import a dataset folder")
    p.add_argument("kind")
    p.add_argument("folder")
    p.add_argument("--name", required=True)
    p.add_argument("--replace", action="store_true")
    p = sub.add_parser("train", help="train one family in this process (FAMILY --help: its options)",
                       add_help=False)
    p.add_argument("family")
    p = sub.add_parser("sweep", help="queue a hyper-parameter sweep and follow it", add_help=False)
    p.add_argument("family")
    p = sub.add_parser("runs", help="runs show RUN_ID: a run's manifest and recorded files")
    p.add_argument("action", choices=["show"])
    p.add_argument("run_id", type=int)
    p.add_argument("--json", action="store_true", help="print the record as JSON")
    args, extra = parser.parse_known_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    from db.migrate import upgrade

    upgrade()
    if args.cmd in ("import", "sample-data"):
        try:
            return _import_cmd(args) if args.cmd == "import" else _sample_cmd(args, extra)
        except (ValueError, FileNotFoundError, KeyError) as exc:  # a refused name or folder: one line, no traceback
            print(f"error: {exc.args[0] if isinstance(exc, KeyError) and exc.args else exc}", file=sys.stderr)
            return 2
    if args.cmd == "runs":
        return _runs_cmd(args)
    from engine.families import FAMILIES

    try:
        FAMILIES[args.family]
    except KeyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.cmd == "sweep":
        return _sweep_cmd(args.family, extra)
    try:
        family_cli = importlib.import_module(f"engine.families.{args.family}.cli")
    except ModuleNotFoundError:
        return _generic_train(args.family, extra)
    return family_cli.main(extra)


if __name__ == "__main__":
    raise SystemExit(main())
