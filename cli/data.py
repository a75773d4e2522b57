"""``import`` and ``sample-data``: put a dataset into the database from the command line."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["add_parsers"]


def add_parsers(sub) -> None:
    p = sub.add_parser("sample-data", help="generate and import a sample dataset",
                       description="Generate a sample dataset of KIND and import it. Further options "
                                   "(--count 300, --task detect, ...) go to the kind's generator; values are YAML.")
    p.add_argument("kind", help="dataset kind (drawings, yolo, logos, market1501, transitions, ...)")
    p.add_argument("--name", help="dataset name (default: sample-KIND)")
    p.set_defaults(run=_sample_cmd, takes_extra=True)
    p = sub.add_parser("import", help="import a dataset folder",
                       description="Scan FOLDER as a KIND dataset and import it. Further options go to the "
                                   "kind's scan, values are YAML (logos: --val-ratio 0.2 --test-ratio 0.1).")
    p.add_argument("kind", help="dataset kind")
    p.add_argument("folder", help="the dataset folder")
    p.add_argument("--name", required=True, help="dataset name")
    p.add_argument("--replace", action="store_true", help="rescan and replace a dataset of that name")
    p.set_defaults(run=_import_cmd, takes_extra=True)


def _refused(exc: Exception) -> int:
    """A refused name or folder: one line, no traceback."""
    print(f"error: {exc.args[0] if isinstance(exc, KeyError) and exc.args else exc}", file=sys.stderr)
    return 2


def _import_cmd(args: argparse.Namespace, extra: list[str] = ()) -> int:
    from jobs.datasets import import_dataset

    try:
        dataset, report = import_dataset(name=args.name, kind=args.kind, root=Path(args.folder), replace=args.replace,
                                         **_options(list(extra)))
    except (ValueError, FileNotFoundError, KeyError) as exc:
        return _refused(exc)
    print(f"imported {dataset.name!r} ({dataset.kind}): {len(report.samples)} samples, "
          f"{len(report.problems)} problems")
    for problem in report.problems:
        print(f"  ! {problem}")
    return 0


def _options(extra: list[str]) -> dict[str, object]:
    """``--count 300 --task detect`` → ``{"count": 300, "task": "detect"}`` (values read as plain YAML)."""
    from engine.safeio import load_yaml

    options: dict[str, object] = {}
    it = iter(extra)
    for token in it:
        if not token.startswith("--"):
            raise ValueError(f"unexpected argument {token!r}")
        key, _, value = token[2:].partition("=")
        value = value or next(it, "")
        options[key.replace("-", "_")] = load_yaml(value) if value.strip() else None
    return options


def _sample_cmd(args: argparse.Namespace, extra: list[str]) -> int:
    from jobs.datasets import generate_sample_job

    try:
        info = generate_sample_job(args.kind, args.name, _options(extra))
    except (ValueError, FileNotFoundError, KeyError) as exc:
        return _refused(exc)
    print(f"imported {info['name']!r}: {info['samples']} samples, {len(info['problems'])} problems")
    for problem in info["problems"]:
        print(f"  ! {problem}")
    return 0
