"""A training worker's warm pool: one training interpreter (``jobs.child --warm``) started ahead.

``TrainingWorker`` is RQ's forking ``Worker`` plus the pool. Right before it forks the work
horse of a run job it hands the waiting interpreter over (``jobs.training_process.hand_over``: the horse
inherits its socket and sends it the run), closes its own end of that socket, and starts the
next one, so the next run finds one warm too. Any other job (a no-op, housekeeping) forks as
before and leaves the waiting interpreter alone. Without warmth (``--no-preload``) nothing is
started ahead and each run's horse starts a fresh interpreter that imports on demand.

The interpreters are started from the worker's main thread (``PR_SET_PDEATHSIG`` follows the
thread that started a process), each in its own session, and die with the worker: a SIGKILL
of the worker takes the waiting one and the one training a run (whose horse then records the run
``failed: worker lost``). The worker reaps the ones it handed over after each job.
"""
from __future__ import annotations

import logging

from rq import Worker

from jobs import training_process as children
from jobs.enqueue import RUN_FUNC

log = logging.getLogger("trainyard.pool")


class WarmPool:
    """At most one waiting training interpreter, and the handed-over ones not yet reaped."""

    def __init__(self, *, warm: bool = True) -> None:
        self.warm = warm
        self.waiting: children.Child | None = None
        self.handed: list[children.Child] = []

    def fill(self) -> None:
        """Start a waiting interpreter unless a live one is there."""
        if not self.warm:
            return
        if self.waiting is not None and not self.waiting.alive():
            log.warning("the warm training process %s died while waiting; starting another", self.waiting.pid)
            self._discard(self.waiting)
            self.waiting = None
        if self.waiting is None:
            self.waiting = children.spawn(warm=True)
            log.info("warm training process %s started", self.waiting.pid)

    def before_fork(self, func_name: str | None) -> bool:
        """Hand the waiting interpreter to the horse about to be forked, for a run job only."""
        self.reap()
        if not self.warm or func_name != RUN_FUNC:
            children.hand_over(None)
            return False
        self.fill()
        children.hand_over(self.waiting)
        return True

    def after_fork(self) -> None:
        """In the worker, the horse forked: the handed interpreter is the horse's now; start the next."""
        handed, self.waiting = self.waiting, None
        children.hand_over(None)
        if handed is not None:
            handed.channel.close()  # the horse holds the only other end: its death closes the socket
            self.handed.append(handed)
        self.fill()

    def reap(self) -> None:
        """Collect the exit status of handed-over interpreters that have ended (no zombies)."""
        self.handed = [c for c in self.handed if c.proc is not None and c.proc.poll() is None]

    def close(self) -> None:
        for c in ([self.waiting] if self.waiting else []) + self.handed:
            self._discard(c)
        self.waiting, self.handed = None, []

    @staticmethod
    def _discard(c: children.Child) -> None:
        c.channel.close()
        children.stop_group(c.pid)
        if c.proc is not None:
            try:
                c.proc.wait(timeout=10)
            except Exception:
                pass


class TrainingWorker(Worker):
    """RQ's forking worker whose run jobs train in a training interpreter from the warm pool."""

    def __init__(self, *args, warm: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.pool = WarmPool(warm=warm)

    def work(self, *args, **kwargs):
        self.pool.fill()  # in the main thread, after the command line set the environment up
        try:
            return super().work(*args, **kwargs)
        finally:
            self.pool.close()

    def fork_work_horse(self, job, queue):
        try:
            func = job.func_name
        except Exception:  # not JSON: the horse fails to deserialize it, as before
            func = None
        handed = self.pool.before_fork(func)
        super().fork_work_horse(job, queue)  # the horse never returns from here (os._exit)
        if handed:
            self.pool.after_fork()

    def execute_job(self, job, queue):
        try:
            return super().execute_job(job, queue)
        finally:
            self.pool.reap()
