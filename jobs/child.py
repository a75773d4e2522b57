"""``python -m jobs.child``: a run's own training interpreter (the work horse's side:
``jobs.training_process``).

Started fresh (never forked from the worker) in its own session. ``--warm``: it imports torch,
every family's trainer and the job code and connects to the database, then waits for its run on
the socket whose fd it was given; cold, it waits at once and imports on demand. It trains the run
exactly as the work horse used to (``jobs.tasks.run_claimed``: the database context, the
manifest, the log file, the end state and the model), reports the end state's name and exits.
It dies with whoever waits on it: when the work horse's end of the socket closes, or its parent
dies (``PR_SET_PDEATHSIG`` and a parent-pid watch), it kills its own process group.
"""
from __future__ import annotations

import argparse
import ctypes
import logging
import os
import signal
import socket
import sys
import threading
from pathlib import Path

from jobs.training_process import Channel

log = logging.getLogger("trainyard.child")
PR_SET_PDEATHSIG = 1
PR_SET_NAME = 15
WARM_NAME = "trainyard-warm"  # the process name (``/proc/PID/comm``) of a warm interpreter done warming up


def mark_ready() -> None:
    """Rename this process ``WARM_NAME`` (its command line stays): whoever waits for a warm
    interpreter to be ready (``bench.harness.settle``, the tests) reads it instead of guessing
    from CPU time, which depends on how much the warm-up imports."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_NAME, WARM_NAME.encode(), 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: nothing reads it there
        pass



def die_with_parent(parent_pid: int) -> None:
    """Ask the kernel for SIGKILL when the parent dies; exit now if it already has."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the parent-pid watch below still applies
        pass
    if os.getppid() != parent_pid:
        os._exit(1)


def kill_own_group() -> None:
    """End this process and everything it started (only when it leads its own group)."""
    if os.getpgrp() == os.getpid():
        os.killpg(os.getpid(), signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)


def _watch(channel: Channel, parent_pid: int) -> None:
    """Kill the run when the work horse's end of the socket closes or the parent goes."""
    while True:
        channel.read(timeout=0.5)  # nothing more is expected from the horse; only its going
        if channel.eof or os.getppid() != parent_pid:
            log.warning("training process %s: its %s is gone; stopping", os.getpid(),
                        "work horse" if channel.eof else "parent")
            kill_own_group()


def _first_use() -> None:
    """Pay the one-off costs a run would otherwise pay in its first seconds: torch's first
    forward, backward and optimizer step on the CPU, and matplotlib's font cache and first
    rendered figure (the families' end-of-run plots) when the warm-up imported matplotlib (some
    family is warmed ahead). Never touches CUDA."""
    try:
        import io

        import torch

        model = torch.nn.Sequential(torch.nn.Linear(8, 4), torch.nn.ReLU(), torch.nn.Linear(4, 8))
        opt = torch.optim.Adam(model.parameters())
        loss = torch.nn.functional.mse_loss(model(torch.zeros(2, 8)), torch.zeros(2, 8))
        loss.backward()
        opt.step()
        if "matplotlib.figure" not in sys.modules:
            return
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=(2, 2))
        FigureCanvasAgg(fig)
        fig.add_subplot().plot([0, 1], [0, 1], label="warm")
        fig.savefig(io.BytesIO(), format="png")
    except Exception:  # a missing library fails the run that needs it, not the warm-up
        log.warning("warm-up: first use failed", exc_info=True)


def warm_up() -> None:
    """What a warm child does before it waits: torch and the trainers of ``TRAINYARD_WARM_FAMILIES``
    (every family by default) imported (no CUDA), the
    job code, the installed package set read, and the database connected."""
    from sqlalchemy import text

    from db.session import session_scope
    from jobs.worker import preload
    from settings import get_settings

    preload(families=get_settings().warm_families)  # TRAINYARD_WARM_FAMILIES: all by default
    _first_use()
    with session_scope() as s:
        s.exec(text("SELECT 1"))
    # the statements a run's first steps send, compiled now (SQLAlchemy caches them per process):
    # the context of a run that does not exist goes stale at each of them and writes nothing
    import tempfile

    from jobs.context import DbRunContext, StaleAttempt

    with tempfile.TemporaryDirectory() as folder:
        for step in ("should_stop", "progress", "_mark_training", "flush"):
            ctx = DbRunContext(-1, out_dir=Path(folder), attempt=-1, poll_s=0.0)
            ctx._buffer.append({"run_id": -1, "step": 0, "epoch": 0, "name": "warm", "value": 0.0, "time": None})
            try:
                getattr(ctx, step)(*((1, 2) if step == "progress" else ()))
            except StaleAttempt:
                pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs.child", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fd", type=int, required=True, help="this end of the socket to the work horse")
    parser.add_argument("--parent", type=int, required=True, help="pid of the starter; die with it")
    parser.add_argument("--warm", action="store_true", help="import and connect now, then wait for a run")
    args = parser.parse_args(argv)
    die_with_parent(args.parent)
    sys.path.insert(0, os.getcwd())
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    channel = Channel(socket.socket(fileno=args.fd))
    if args.warm:
        warm_up()
        mark_ready()
        try:
            channel.send({"ready": os.getpid()})
        except OSError:
            return 0
    messages: list[dict] = []
    while not messages and not channel.eof:
        messages = channel.read(timeout=None)
    if not messages:
        return 0  # the worker stopped before it had a run for us
    msg = messages[0]
    threading.Thread(target=_watch, args=(channel, args.parent), name="trainyard-parent-watch", daemon=True).start()
    from jobs import tasks

    claim = tasks.Claim.from_json(msg["run"], horse_pid=msg.get("horse"))
    status = tasks.run_claimed(claim, capture=bool(msg.get("capture", True)))
    channel.send({"status": status})
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # no interpreter teardown: the helper threads of the libraries need none


if __name__ == "__main__":
    raise SystemExit(main())
