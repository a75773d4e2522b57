"""``python -m jobs.worker``: an RQ worker on the high, default and low queues, in that order;
``python -m jobs.worker --gpus 0,1`` (or ``--gpus all``): a GPU worker pinned to those GPUs
through ``CUDA_VISIBLE_DEVICES``, which takes the runs that need up to that many GPUs (the
``<priority>-gpuN`` lanes, see ``jobs.machines``) before CPU runs; without ``--gpus`` it is a CPU
worker that sees no GPU and never takes a GPU run;
``python -m jobs.worker --scoring``: the scoring lane (predictions only, models kept loaded).

Every training worker registers its host, GPUs (name, memory, by NVML) and free memory in Redis
and renews that every few seconds (``jobs.machines``); Home lists them.

A training worker forks one work horse per job; the horse of a run claims it and trains it in a
fresh interpreter of its own (``jobs.child``), never in the fork. The worker keeps one such
interpreter started ahead, with torch and every family's trainer imported (``jobs.pool``), so a
run starts warm instead of paying seconds of imports; the worker and its horses import only the
job code, never torch, so CUDA is never initialised in a process that forks.

The scoring worker runs its jobs in its own process (RQ's ``SimpleWorker``, no fork), so the
models ``jobs.inference`` keeps loaded survive from one prediction to the next, and it listens
only to the ``scoring`` queue, so a prediction never waits behind a training run.

A training worker also reconciles on start (lost runs failed, vanished jobs queued again),
runs the lost-run reaper in a background thread, fails a run the moment its work horse is
killed, and heartbeats every few seconds while busy so a killed worker is noticed quickly.

Every worker reads jobs as JSON (``jobs.wire``): a job written with another serializer (a
pickle) fails to deserialize and never runs. A plain
``rq worker high default low --url $REDIS_URL --serializer rq.serializers.JSONSerializer`` works
the same (cold), as long as it runs from the repository root with the same settings (lost runs
are then found by the other workers' reapers or the launcher, through the callbacks every run job
carries).
"""
from __future__ import annotations

import argparse
import functools
import importlib
import logging
import os
import sys
import time

from rq import SimpleWorker

from jobs.connection import QUEUE_NAMES, SCORING_QUEUE, get_redis
from jobs.wire import SERIALIZER

log = logging.getLogger("trainyard.worker")


def preload(*, scoring: bool = False, heavy: bool = True, families: str | None = None) -> list[str]:
    """Import the job code, torch and every family's trainer (``scoring``: predict) module now,
    in this process, without touching CUDA. Returns the modules that failed to import (a family
    whose libraries are missing still fails its own runs with the import error, as before).
    ``heavy=False``: the job code only (a training worker: its runs train in ``jobs.child``).
    ``families``: which families' modules ("all", comma-separated keys, or "" for none)."""
    started = time.monotonic()
    if not heavy:
        for name in ("jobs.tasks", "jobs.evaluate", "jobs.training_process", "jobs.reaper", "jobs.notify"):
            importlib.import_module(name)
        log.info("preloaded the job code in %.1f s", time.monotonic() - started)
        return []
    modules = ["jobs.tasks", "jobs.evaluate", "jobs.inference", "jobs.datasets", "torch", "torch.optim", "torch._dynamo"]
    from engine.families import FAMILIES

    wanted = None if families in (None, "all") else {k.strip() for k in families.split(",") if k.strip()}
    if not scoring and (wanted is None or wanted):  # the families' metrics and end-of-run plots (~1 s of
        # CPU); with no family warmed ahead each run imports its family's libraries itself, these too
        modules += ["matplotlib.figure", "matplotlib.backends.backend_agg", "sklearn.metrics"]
    for family in FAMILIES.values():
        if wanted is not None and family.key not in wanted:
            continue
        if scoring:
            modules.append(family.predict_module)
        else:
            modules.append(family.trainer_path.partition(":")[0])
            if family.evaluator_path:  # evaluation jobs run on the same workers
                modules.append(family.evaluator_path.partition(":")[0])
    failed = []
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            failed.append(name)
            log.warning("preload: %s not imported (%s)", name, exc)
    if not scoring:  # the installed set, read once here: every run's manifest names it (forks inherit it)
        from engine.provenance import packages

        packages()
    log.info("preloaded %d modules in %.1f s", len(modules) - len(failed), time.monotonic() - started)
    return failed

log = logging.getLogger("trainyard.worker")
JOB_MONITORING_INTERVAL_S = 5  # rq's busy heartbeat; its default 30 s hides a dead worker for long


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs.worker", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", help="worker name (default: host.pid)")
    parser.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    parser.add_argument("--queues", default=None,
                        help=f"comma-separated, highest priority first (default {','.join(QUEUE_NAMES)}; "
                             f"with --scoring: {SCORING_QUEUE})")
    parser.add_argument("--scoring", action="store_true",
                        help="serve predictions only, in this process, keeping recent models loaded")
    parser.add_argument("--no-preload", action="store_true",
                        help="start cold: no warm training process (each run's interpreter imports for itself)")
    parser.add_argument("--no-reaper", action="store_true", help="do not sweep for lost runs from this worker")
    parser.add_argument("--gpus", default=None,
                        help="GPUs this worker owns: all, or indices such as 0,1 (pinned through "
                             "CUDA_VISIBLE_DEVICES); none: a CPU worker that sees no GPU")
    parser.add_argument("--no-cpu-runs", action="store_true",
                        help="with --gpus: take only runs that need a GPU")
    args = parser.parse_args(argv)
    sys.path.insert(0, os.getcwd())
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    from jobs import machines

    try:
        gpus = [] if args.scoring and args.gpus is None else machines.parse_gpus(args.gpus)
    except ValueError as exc:
        parser.error(str(exc))
    if not args.scoring or args.gpus is not None:
        machines.pin_gpus(gpus)  # before anything imports torch: the horses and runs see only these
    if not args.no_preload:
        preload(scoring=args.scoring, heavy=args.scoring)
    default_queues = ",".join(machines.worker_queues(len(gpus), cpu_runs=not args.no_cpu_runs))
    queues = (args.queues or (SCORING_QUEUE if args.scoring else default_queues)).split(",")
    if args.scoring:  # no fork: loaded models survive from one prediction to the next
        SimpleWorker(queues, connection=get_redis(), name=args.name, serializer=SERIALIZER).work(
            burst=args.burst, logging_level="INFO", with_scheduler=False)
        return 0
    from jobs import reaper
    from jobs.pool import TrainingWorker

    handler = functools.partial(reaper.horse_killed, worker_name=args.name or "")
    worker = TrainingWorker(queues, connection=get_redis(), name=args.name, serializer=SERIALIZER,
                            job_monitoring_interval=JOB_MONITORING_INTERVAL_S, work_horse_killed_handler=handler,
                            warm=not args.no_preload)
    heartbeat = machines.Heartbeat(worker.name, gpus=gpus, queues=queues).start()
    log.info("worker %s: %s; queues %s", worker.name,
             f"GPUs {','.join(map(str, gpus))}" if gpus else "CPU only", ",".join(queues))
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
    from jobs import notify

    senders = notify.start_senders()  # TRAINYARD_NOTIFY_URL: deliveries in the background, never in a job
    try:
        worker.work(burst=args.burst, logging_level="INFO", with_scheduler=False)
    finally:
        heartbeat.stop()
        if sweeper is not None:
            sweeper.stop()
        notify.stop_senders(senders)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
