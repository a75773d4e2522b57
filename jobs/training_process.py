"""The work horse's side of a run in its own interpreter (the interpreter itself: ``jobs.child``).

The RQ job (``jobs.tasks.execute_run``, in RQ's forked work horse) claims the run, hands it to
a fresh Python process started from the interpreter's executable (``python -m jobs.child``,
never a fork of the worker), and waits:

- **Warm**: a training worker (``jobs.pool``) keeps one such process started ahead, with torch
  and every family's trainer imported and the database connected, waiting for its run on a
  socket; the work horse of the next run job inherits that socket and sends the run. The worker
  then starts the next one. Without a warm process (``--no-preload``, a plain ``rq worker``) the
  work horse starts one itself, which imports on demand (seconds).
- **Wire**: one AF_UNIX stream socket per process (the child's end passed by fd number on argv),
  newline-delimited JSON, nothing pickled: ``{"ready": pid}`` from the child when it is warm,
  ``{"run": {claim}, "capture": bool, "horse": pid}`` from the work horse, ``{"status": "..."}``
  from the child once the run's end state is recorded.
- **Death**: the child runs in its own session (its own process group) and kills it when the
  horse's end of the socket closes or its parent dies. A child that ended without reporting is
  an ``Outcome`` with the reason (the signal when it can be read); ``jobs.tasks`` records it as
  ``failed: worker lost: …``.
- **Cancel**: the trainer stops at its next batch as before (``should_stop``); a child still
  running ``TRAINYARD_CANCEL_GRACE_S`` after a cancel (or after its attempt went stale) gets its
  process group SIGTERM, then SIGKILL. Whatever the end, the group is killed when the horse is
  done with it, so a library's helper processes never outlive their run.
"""
from __future__ import annotations

import json
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

log = logging.getLogger("trainyard.training")

CANCEL_GRACE_S = float(os.environ.get("TRAINYARD_CANCEL_GRACE_S", "30"))  # cancel → SIGTERM of the group
KILL_AFTER_S = 5.0  # SIGTERM → SIGKILL
EXIT_AFTER_STATUS_S = 10.0  # a child that reported its end must exit within this, or it is killed
POLL_S = 1.0  # how often the work horse reads the run's cancel flag and attempt


# ---- the wire ---------------------------------------------------------------------------------


class Channel:
    """Newline-delimited JSON over a stream socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buf = b""
        self.eof = False

    def send(self, message: dict) -> None:
        self.sock.sendall(json.dumps(message).encode() + b"\n")

    def read(self, timeout: float | None) -> list[dict]:
        """The whole messages that arrive within ``timeout`` (None: block for at least one);
        sets ``eof`` when the other end closed."""
        out: list[dict] = []
        while not self.eof:
            ready, _, _ = select.select([self.sock], [], [], timeout)
            if not ready:
                break
            try:
                data = self.sock.recv(65536)
            except (ConnectionResetError, OSError):
                data = b""
            if not data:
                self.eof = True
                break
            self._buf += data
            while b"\n" in self._buf:
                line, self._buf = self._buf.split(b"\n", 1)
                if line.strip():
                    out.append(json.loads(line))
            if out or timeout is not None:
                timeout = 0  # drain what is already there, then return
        return out

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass




@dataclass
class Child:
    """A started training interpreter as its starter holds it."""
    pid: int
    channel: Channel
    proc: subprocess.Popen | None = None  # None in a work horse: the worker started it, not us
    warm: bool = False
    started: float = field(default_factory=time.monotonic)

    def alive(self) -> bool:
        if self.proc is not None:
            return self.proc.poll() is None
        from jobs.liveness import pid_alive

        return pid_alive(self.pid)


def spawn(*, warm: bool, env: dict | None = None) -> Child:
    """Start ``python -m jobs.child`` (a fresh interpreter, its own session) with one end of a
    socket pair; ``warm``: it imports the heavy modules and connects before waiting for a run."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    cmd = [sys.executable, "-m", "jobs.child", "--fd", str(theirs.fileno()), "--parent", str(os.getpid())]
    try:
        proc = subprocess.Popen(cmd + (["--warm"] if warm else []), pass_fds=(theirs.fileno(),),
                                start_new_session=True, env=dict(env if env is not None else os.environ),
                                cwd=os.getcwd())
    except BaseException:
        ours.close()
        raise
    finally:
        theirs.close()
    return Child(pid=proc.pid, channel=Channel(ours), proc=proc, warm=warm)


_handed: Child | None = None  # set by the worker right before it forks the work horse of a run job


def hand_over(child: Child | None) -> None:
    """Worker side: the next forked work horse takes ``child`` (the horse inherits its socket)."""
    global _handed
    _handed = child


def take_handed() -> Child | None:
    """Work horse side: the interpreter the worker handed over, if any. It is the worker's
    child, not ours (``proc`` is dropped: a copy of the worker's ``Popen`` cannot wait for it)."""
    global _handed
    child, _handed = _handed, None
    if child is not None:
        child.proc = None
    return child


def stop_group(pid: int, sig: int = signal.SIGKILL) -> None:
    """Signal the process group a training interpreter leads (it and whatever it started)."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _exit_status(child: Child, timeout: float = 2.0) -> int | None:
    """The child's wait status (``os.waitpid`` style) when it can be known: ours to wait for,
    or a zombie of the worker, whose status ``/proc/PID/stat`` still shows (field 52)."""
    deadline = time.monotonic() + timeout
    if child.proc is not None:
        try:
            code = child.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        return (-code) & 0x7F if code < 0 else (code & 0xFF) << 8
    while True:
        try:
            with open(f"/proc/{child.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[-1].split()
        except OSError:
            return None  # already reaped (its parent died and init took it)
        if fields[0] == "Z" and len(fields) > 49:
            return int(fields[49])
        if time.monotonic() > deadline:
            return None
        time.sleep(0.02)


def death_reason(child: Child, worker: str, worker_pid: int) -> str:
    """Why a training interpreter ended without reporting, in the words of ``fail_lost``."""
    status = _exit_status(child)
    what = f"the training process (pid {child.pid}) of worker {worker or '?'}"
    if os.getppid() != worker_pid:
        return f"worker {worker or '?'} (pid {worker_pid}) died, and {what} with it"
    if status is None:
        return f"{what} ended without recording an outcome"
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = "?"
        return f"{what} was killed by signal {sig} ({name})"
    return f"{what} exited with status {os.WEXITSTATUS(status)} without recording an outcome"


@dataclass(frozen=True)
class Outcome:
    """How a training interpreter ended: it reported ``status``, or it was ``stopped`` by the
    horse (``why``: the cancel or the stale attempt), or it died (``why``: what is known)."""
    status: str | None = None
    stopped: bool = False
    why: str = ""


def run_in_child(claim, *, capture: bool = True) -> Outcome:
    """Work horse side: train ``claim`` (a ``jobs.tasks.Claim``) in a training interpreter and
    wait for it to end."""
    worker_pid = os.getppid()
    child = take_handed()
    message = {"run": claim.to_json(), "capture": capture, "horse": os.getpid()}
    for tries in range(2):
        if child is None or not child.alive():
            if child is not None:
                child.channel.close()
            child = spawn(warm=False)
        try:
            child.channel.send(message)
            break
        except OSError:  # it died between being started and being handed the run
            child.channel.close()
            child = None
            if tries:
                raise
    log.info("run %s: training in process %s (%s interpreter)", claim.run_id, child.pid,
             "warm" if child.warm else "fresh")
    status, reason = None, None
    cancel_at = term_at = reported_at = None
    last_poll = 0.0
    try:
        while True:
            for msg in child.channel.read(timeout=0.2):
                if "status" in msg:
                    status, reported_at = msg["status"], time.monotonic()
            if child.channel.eof:
                break
            now = time.monotonic()
            if reported_at is not None:
                if now - reported_at > EXIT_AFTER_STATUS_S:
                    break
                continue
            if now - last_poll >= POLL_S:
                last_poll = now
                gone = _cancelled_or_stale(claim)
                if gone and cancel_at is None:
                    cancel_at, reason = now, gone
            if cancel_at is not None and term_at is None and now - cancel_at >= CANCEL_GRACE_S:
                log.warning("run %s: %s and its training process %s is still running after %.0f s; stopping "
                            "its process group", claim.run_id, reason, child.pid, CANCEL_GRACE_S)
                stop_group(child.pid, signal.SIGTERM)
                term_at = now
            if term_at is not None and now - term_at >= KILL_AFTER_S:
                stop_group(child.pid, signal.SIGKILL)
    finally:  # the job is over for us (or the horse is being torn down): nothing of the run outlives it
        stop_group(child.pid, signal.SIGKILL)
        child.channel.close()
        if child.proc is not None:
            try:
                child.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
    if status is not None:
        return Outcome(status=status)
    if term_at is not None:
        return Outcome(stopped=True, why=reason or "")
    return Outcome(why=death_reason(child, claim.worker, worker_pid))


def _cancelled_or_stale(claim) -> str | None:
    """Why the run's training must stop (cancel asked, attempt moved on, run ended elsewhere), or None."""
    from db import queries
    from db.session import session_scope

    try:
        with session_scope() as s:
            state = queries.attempt_state(session=s, run_id=claim.run_id)
    except Exception:  # a busy or briefly unreachable database: ask again next time
        return None
    if state is None:
        return "the run was deleted"
    attempt, status, cancel = state
    if attempt != claim.attempt or status.finished:
        return f"attempt {claim.attempt} is stale (the run is at attempt {attempt}, {status.value})"
    return "a cancel was requested" if cancel else None
