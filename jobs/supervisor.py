"""The launcher's watchman: restarts the embedded Redis and local workers when they die, says
so where the dashboard can show it, and sweeps for lost runs.

Events go to a short Redis list (``EVENTS_KEY``, kept in the AOF like the queue), so Home reads
them with one command.
"""
from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from collections.abc import Mapping
from datetime import datetime, timezone

from jobs import queues, reaper
from jobs.connection import embedded_redis_running, embedded_url, ensure_embedded_redis, get_redis
from settings import Settings, get_settings

log = logging.getLogger("trainyard.supervisor")
EVENTS_KEY = "trainyard:supervisor:events"
KEEP_EVENTS = 50
CHECK_EVERY_S = 2.0


def record_event(text: str) -> None:
    """Log ``text`` and keep it, time-stamped, for the dashboard (best effort)."""
    log.warning("%s", text)
    print(f"[supervisor] {text}", flush=True)
    try:
        conn = get_redis()
        conn.lpush(EVENTS_KEY, json.dumps({"at": time.time(), "text": text}))
        conn.ltrim(EVENTS_KEY, 0, KEEP_EVENTS - 1)
    except Exception:  # Redis itself may be what is down; the log line stays
        pass


def recent_events(*, within_s: float = 24 * 3600, limit: int = 5) -> list[dict]:
    """The latest supervisor events (``at``: datetime UTC, ``text``), newest first."""
    cutoff = time.time() - within_s
    out = []
    for raw in get_redis().lrange(EVENTS_KEY, 0, limit - 1):
        item = json.loads(raw)
        if item["at"] >= cutoff:
            out.append({"at": datetime.fromtimestamp(item["at"], timezone.utc), "text": item["text"]})
    return out


class Supervisor:
    """Owns the local worker processes; ``check()`` makes one pass of repairs."""

    def __init__(self, *, settings: Settings | None = None, env: Mapping[str, str], worker_names: list[str],
                 cwd: str | None = None, scoring_names: list[str] = ()) -> None:
        self.settings = settings or get_settings()
        self.env = dict(env)
        self.cwd = cwd
        self.workers: dict[str, subprocess.Popen] = {}
        self.names = list(worker_names)
        self.scoring = set(scoring_names)  # started with --scoring: the prediction lane
        self.names += [n for n in scoring_names if n not in self.names]
        # ours to restart: the embedded server, whether or not REDIS_URL already names its socket
        self.embedded = self.settings.redis_embedded or self.settings.redis_url == embedded_url(self.settings)

    def _spawn(self, name: str) -> subprocess.Popen:
        lane = ["--scoring"] if name in self.scoring else []
        training = [n for n in self.names if n not in self.scoring]
        if not lane and self.settings.worker_gpus and training and name == training[0]:
            lane = ["--gpus", self.settings.worker_gpus]  # the first local worker owns the GPUs
        return subprocess.Popen([sys.executable, "-m", "jobs.worker", *lane, "--name", name], env=self.env,
                                cwd=self.cwd)

    def start_workers(self) -> None:
        for name in self.names:
            self.workers[name] = self._spawn(name)

    def check(self) -> list[str]:
        """Restart what died, sweep lost runs; return the events of this pass."""
        events = []
        if self.embedded and not embedded_redis_running(self.settings):
            try:
                ensure_embedded_redis(self.settings)
            except RuntimeError as exc:  # try again next pass; the dashboard says the queue is down
                log.error("could not restart the embedded Redis: %s", exc)
                return events
            events.append(f"Redis restarted at {datetime.now().strftime('%H:%M:%S')} (it had stopped); "
                          f"the queue was reloaded from its append-only file")
            record_event(events[-1])
            try:
                result = reaper.reconcile()
                if result["requeued"] or result["failed"]:
                    record_event(f"after the Redis restart: queued again {result['requeued'] or 'none'}, "
                                 f"failed as lost {result['failed'] or 'none'}")
            except Exception:
                log.exception("reconcile after the Redis restart failed")
        for name, proc in list(self.workers.items()):
            code = proc.poll()
            if code is None:
                continue
            self._forget_registration(name)
            self.workers[name] = self._spawn(name)
            how = f"killed by signal {-code}" if code < 0 else f"exited with status {code}"
            events.append(f"worker {name} restarted at {datetime.now().strftime('%H:%M:%S')} (it was {how})")
            record_event(events[-1])
        try:
            reaper.reap()
            from jobs.stalls import mark_stalled_runs

            mark_stalled_runs()
        except Exception:
            log.exception("reaper pass failed")
        return events

    def _forget_registration(self, name: str) -> None:
        """Drop the dead process's RQ registration so a worker of the same name can start."""
        try:
            w = queues.find_worker(name)
            if w is not None:
                w.register_death()
        except Exception:
            log.exception("could not clear the registration of worker %s", name)

    def stop(self, timeout_s: float = 30.0) -> None:
        import signal

        for proc in self.workers.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)  # RQ lets the current job finish
        for proc in self.workers.values():
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
