"""``python -m cli`` (also ``python -m engine``): offline data tools, training without the queue,
and sweeps. The edge of the project: it drives ``jobs`` and the database, and nothing imports it.

    python -m engine sample-data KIND [--name NAME] [options]  generate a sample dataset and import it
    python -m engine import KIND FOLDER --name NAME            scan a folder and import it
    python -m engine train FAMILY [--dataset NAME] [--config FILE.yaml] [--set key=value ...] [family options]
    python -m engine sweep FAMILY --space FILE.yaml [--dataset NAME] [--trials N]   queue a sweep and follow it
    python -m engine learning-curve FAMILY --dataset NAME [--fractions 0.125,0.25,0.5,1] [--repeats 2] [--set k=v]
                                                               queue a learning-curve study and follow it
    python -m engine runs show RUN_ID [--json]                 a run's manifest and recorded files
    python -m engine evaluate VERSION_ID --dataset NAME [--split test] [--wait]   a saved model's metrics
    python -m engine resume RUN_ID [--checkpoint ID]           continue a cancelled/failed run from a checkpoint
    python -m engine models add PATH [--family F]              copy a base model in and record its sha256
    python -m engine models pull NAME                          fetch a named base model (yolo11n.pt, ...)
    python -m engine models list                               the catalog, each entry checked
    python -m engine config import FAMILY FILE [-o OUT.yaml]   a seed system's nested config as Trainyard YAML

Every subcommand has ``--help`` (``train FAMILY --help`` lists every config key with its default
and meaning). A family adds ``train`` options by a ``cli_arguments(parser)`` hook in the
``cli`` module of its package (``engine/families/<key>/cli.py``, see ``cli.train``); the work
itself is the same for every family: ``jobs.api.plan_launch``, then each run in this process.
"""
from __future__ import annotations

import argparse
import logging
import sys

__all__ = ["main", "build_parser"]

PROG = "python -m engine"


def dataset_named(name: str):
    """The dataset called ``name`` (None when there is none): the look-up every command that
    takes ``--dataset NAME`` starts with."""
    from db import queries
    from db.session import session_scope

    with session_scope() as s:
        return queries.get_dataset_by_name(session=s, name=name)


def build_parser() -> argparse.ArgumentParser:
    from cli import config, curve, data, evaluate, models, resume, runs, sweep, train

    parser = argparse.ArgumentParser(prog=PROG, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    data.add_parsers(sub)
    train.add_parser(sub)
    sweep.add_parser(sub)
    curve.add_parser(sub)
    runs.add_parser(sub)
    evaluate.add_parser(sub)
    resume.add_parser(sub)
    models.add_parser(sub)
    config.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "takes_extra", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    if not getattr(args, "opens_db_itself", False):
        from db.migrate import upgrade

        upgrade()
    return args.run(args, extra) if getattr(args, "takes_extra", False) else args.run(args)
