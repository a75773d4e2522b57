"""``python -m engine runs show RUN_ID [--json]``: a run's manifest and its recorded files."""
from __future__ import annotations

import json
import sys

__all__ = ["add_parser"]


def add_parser(sub) -> None:
    p = sub.add_parser("runs", help="runs show RUN_ID: a run's manifest and recorded files",
                       description="Print a run's reproducibility record (manifest) and the files it wrote.")
    p.add_argument("action", choices=["show"])
    p.add_argument("run_id", type=int)
    p.add_argument("--json", action="store_true", help="print the record as JSON")
    p.set_defaults(run=_runs_cmd)


def _runs_cmd(args) -> int:
    from jobs.run_report import run_record, run_report

    try:
        print(json.dumps(run_record(args.run_id), indent=2, default=str) if args.json else run_report(args.run_id))
    except LookupError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2
    return 0
