"""``python -m engine``: offline data tools and training without the queue.

    python -m engine sample-data KIND [--name NAME] [options]  generate a sample dataset and import it
    python -m engine import KIND FOLDER --name NAME            scan a folder and import it
    python -m engine train FAMILY [family options]             train in this process, against the database

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


def _generic_train(family_key: str, argv: list[str]) -> int:
    from db import queries
    from db.migrate import upgrade
    from db.session import session_scope
    from engine.configs import ConfigError, config_overrides, default_config, validate_config
    from engine.core import LaunchBlocked
    from engine.families import FAMILIES
    from jobs.tasks import execute_run

    parser = argparse.ArgumentParser(prog=f"python -m engine train {family_key}")
    parser.add_argument("--dataset", help="dataset name")
    parser.add_argument("--config", type=Path, help="YAML file of config overrides")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--override", action="store_true",
                        help="train even when the data sufficiency gate refuses the launch")
    args = parser.parse_args(argv)
    family = FAMILIES[family_key]
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
        reasons = family.require_launchable(dataset_id, config, override=args.override)
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
    for name, value in sorted(done.summary.items()):
        print(f"  {name}: {value:.6g}" if isinstance(value, float) else f"  {name}: {value}")
    return 0 if status == "completed" else 1


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
    p = sub.add_parser("train", help="train one family in this process")
    p.add_argument("family")
    args, extra = parser.parse_known_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    from db.migrate import upgrade

    upgrade()
    if args.cmd == "import":
        return _import_cmd(args)
    if args.cmd == "sample-data":
        return _sample_cmd(args, extra)
    from engine.families import FAMILIES

    try:
        FAMILIES[args.family]
    except KeyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        family_cli = importlib.import_module(f"engine.families.{args.family}.cli")
    except ModuleNotFoundError:
        return _generic_train(args.family, extra)
    return family_cli.main(extra)


if __name__ == "__main__":
    raise SystemExit(main())
