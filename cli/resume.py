"""``python -m engine resume RUN_ID [--checkpoint ID]``: continue a cancelled or failed run from a
verified checkpoint (the newest intact one unless ``--checkpoint`` names one), on the queue."""
from __future__ import annotations

import sys

__all__ = ["add_parser"]


def add_parser(sub) -> None:
    p = sub.add_parser("resume", help="resume RUN_ID [--checkpoint ID]: continue a cancelled or failed run",
                       description="Queue a cancelled or failed run again, continuing from a checkpoint whose "
                                   "file still has its recorded sha256: the newest intact one, or the one "
                                   "--checkpoint names (its id, as the Progress page's checkpoint table lists).")
    p.add_argument("run_id", type=int)
    p.add_argument("--checkpoint", type=int, default=None, help="checkpoint id to resume from (default: newest intact)")
    p.set_defaults(run=_resume)


def _resume(args) -> int:
    from jobs import api
    from jobs.connection import QueueUnavailable

    try:
        run = api.resume_run(args.run_id, checkpoint_id=args.checkpoint)
    except (LookupError, ValueError, QueueUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"run {run.id} queued again (attempt {run.attempt}), resuming from {run.resume_from}")
    return 0
