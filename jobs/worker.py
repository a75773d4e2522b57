"""``python -m jobs.worker``: an RQ worker on the high, default and low queues, in that order.

A plain ``rq worker high default low --url $REDIS_URL`` works the same, as long as it runs from
the repository root with the same settings.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

from rq import Worker

from jobs.connection import QUEUE_NAMES, get_redis


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs.worker", description=__doc__)
    parser.add_argument("--name", help="worker name (default: host.pid)")
    parser.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    parser.add_argument("--queues", default=",".join(QUEUE_NAMES), help="comma-separated, highest priority first")
    args = parser.parse_args(argv)
    sys.path.insert(0, os.getcwd())
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    worker = Worker(args.queues.split(","), connection=get_redis(), name=args.name)
    worker.work(burst=args.burst, logging_level="INFO", with_scheduler=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
