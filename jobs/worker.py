"""``python -m jobs.worker``: an RQ worker on the high, default and low queues, in that order.

Besides RQ's own loop it reconciles on start (lost runs failed, vanished jobs queued again),
runs the lost-run reaper in a background thread, fails a run the moment its work horse is
killed, and heartbeats every few seconds while busy so a killed worker is noticed quickly.

A plain ``rq worker high default low --url $REDIS_URL`` works the same, as long as it runs from
the repository root with the same settings (lost runs are then found by the other workers'
reapers or the launcher, through the callbacks every run job carries).
"""
from __future__ import annotations

import argparse
import functools
import logging
import os
import sys

from rq import Worker

from jobs.connection import QUEUE_NAMES, get_redis

log = logging.getLogger("trainyard.worker")
JOB_MONITORING_INTERVAL_S = 5  # rq's busy heartbeat; its default 30 s hides a dead worker for long


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs.worker", description=__doc__)
    parser.add_argument("--name", help="worker name (default: host.pid)")
    parser.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    parser.add_argument("--queues", default=",".join(QUEUE_NAMES), help="comma-separated, highest priority first")
    parser.add_argument("--no-reaper", action="store_true", help="do not sweep for lost runs from this worker")
    args = parser.parse_args(argv)
    sys.path.insert(0, os.getcwd())
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    from jobs import reaper

    handler = functools.partial(reaper.horse_killed, worker_name=args.name or "")
    worker = Worker(args.queues.split(","), connection=get_redis(), name=args.name,
                    job_monitoring_interval=JOB_MONITORING_INTERVAL_S, work_horse_killed_handler=handler)
    sweeper = None
    if not args.no_reaper:
        try:
            result = reaper.reconcile()
            if result["failed"] or result["requeued"]:
                log.warning("reconciled on start: failed %s, queued again %s", result["failed"], result["requeued"])
        except Exception:  # the worker is still useful without it; the next sweep tries again
            log.exception("reconcile on start failed")
        sweeper = reaper.ReaperThread()
        sweeper.start()
    try:
        worker.work(burst=args.burst, logging_level="INFO", with_scheduler=False)
    finally:
        if sweeper is not None:
            sweeper.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
