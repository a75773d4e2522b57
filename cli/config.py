"""``config import FAMILY FILE``: a seed system's nested config file as Trainyard's flat YAML.

Prints what became of every key (mapped, renamed, dropped and why, unknown) and writes the
mapped config, validated by the family's model, as the family's commented YAML (``-o FILE``, or
standard output). The mapping is the family's (``engine.config_import``); this only prints.
Exit status 0 when the mapped config validates and no key is unknown, 1 when keys are unknown
(the YAML is still written), 2 when the file cannot be read or the mapped config is refused.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["add_parser"]


def add_parser(sub) -> None:
    from engine.families import FAMILIES

    config = sub.add_parser("config", help="config tools (config import FAMILY FILE: a seed system's config)",
                            description="Config tools.")
    cmds = config.add_subparsers(dest="config_cmd", required=True, metavar="COMMAND")
    p = cmds.add_parser("import", help="read a seed system's nested config into a family's flat YAML",
                        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("family", choices=list(FAMILIES), metavar="FAMILY", help=f"one of {', '.join(FAMILIES)}")
    p.add_argument("file", type=Path, help="the seed system's YAML (or JSON) config file")
    p.add_argument("-o", "--output", type=Path, help="write the Trainyard YAML here (default: standard output)")
    p.set_defaults(run=_import_cmd, opens_db_itself=True)  # reads a file, writes YAML: no database


def _import_cmd(args: argparse.Namespace) -> int:
    from engine.config_import import import_seed_config
    from engine.configs import ConfigError, config_text, validate_config
    from engine.families import FAMILIES
    from engine.safeio import UnsafeFile

    family = FAMILIES[args.family]
    try:
        result = import_seed_config(family, Path(args.file))
    except (OSError, UnsafeFile, ValueError) as exc:
        print(f"error: {args.file}: {exc}", file=sys.stderr)
        return 2
    report = sys.stderr if args.output is None else sys.stdout
    print(f"{args.file}: {len(result.outcomes)} key(s) read for {family.key}", file=report)
    for outcome in result.outcomes:
        print(f"  {outcome}", file=report)
    counts = {a: len(result.by_action(a)) for a in ("mapped", "renamed", "dropped", "unknown")}
    print("  " + ", ".join(f"{n} {a}" for a, n in counts.items()), file=report)
    try:
        config = validate_config(family, result.data)
    except ConfigError as exc:
        print(f"error: the mapped config is refused: {exc}", file=sys.stderr)
        return 2
    text = config_text(family, config.model_dump(mode="json"))
    header = f"# imported by `python -m engine config import {family.key} {args.file}`\n"
    if args.output is None:
        sys.stdout.write(header + text)
    else:
        args.output.write_text(header + text)
        print(f"wrote {args.output}", file=report)
    return 1 if counts["unknown"] else 0
