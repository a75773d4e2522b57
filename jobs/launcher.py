"""``python -m jobs.launcher``: the one-command embedded mode behind ``make run``.

Upgrades the database, starts the embedded Redis (unless ``REDIS_URL`` is set) and
``TRAINYARD_WORKERS`` worker processes plus one scoring worker, reconciles the queue with the
database, then serves the dashboard while a supervisor restarts Redis or a worker that dies;
Ctrl+C stops them all.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from db.migrate import upgrade
from jobs.connection import ensure_embedded_redis, stop_embedded_redis
from jobs.supervisor import CHECK_EVERY_S, Supervisor
from settings import Settings, get_settings

ROOT = Path(__file__).resolve().parents[1]


def _terminate(signum, frame) -> None:
    raise KeyboardInterrupt  # SIGTERM cleans up like Ctrl+C


def streamlit_command(settings: Settings) -> list[str]:
    """The dashboard's command line. ``.streamlit/config.toml`` holds the safe defaults; the flags
    repeat the ones that matter so they hold even when started from another folder."""
    return [sys.executable, "-m", "streamlit", "run", str(ROOT / "Home.py"),
            "--server.port", str(settings.port), "--server.address", settings.bind,
            "--server.headless", "true", "--server.fileWatcherType", "none",
            "--client.showErrorDetails", "none", "--browser.gatherUsageStats", "false"]


def main() -> int:
    signal.signal(signal.SIGTERM, _terminate)
    settings = get_settings()
    upgrade()
    env = dict(os.environ)
    embedded = settings.redis_embedded
    if embedded:
        env["REDIS_URL"] = ensure_embedded_redis(settings)
        print(f"embedded Redis on {env['REDIS_URL']}")
    print(f"database: {settings.resolved_database_url}")
    from jobs.reaper import reconcile

    result = reconcile()
    if result["failed"] or result["requeued"]:
        print(f"reconciled: failed as lost {result['failed']}, queued again {result['requeued']}")
    supervisor = Supervisor(settings=settings, env=env, cwd=str(ROOT),
                            worker_names=[f"local-{i + 1}-{os.getpid()}" for i in range(settings.workers)],
                            scoring_names=[f"local-scoring-{os.getpid()}"])
    supervisor.start_workers()  # the scoring lane: predictions for the pages, never behind a training run
    from jobs import notify

    senders = notify.start_senders()  # the workers deliver too; each event reaches each webhook once
    print(f"started {settings.workers} local worker(s) and a scoring worker")
    ui = subprocess.Popen(streamlit_command(settings), env=env, cwd=ROOT)
    where = "this machine only" if settings.bind in ("127.0.0.1", "localhost", "::1") else "the network"
    print(f"dashboard on http://{settings.bind}:{settings.port} ({where}; "
          f"password {'required' if settings.password else 'off: set TRAINYARD_PASSWORD to require one'})")
    try:
        while ui.poll() is None:
            supervisor.check()
            time.sleep(CHECK_EVERY_S)
        return ui.returncode
    except KeyboardInterrupt:
        return 0
    finally:
        if ui.poll() is None:
            ui.send_signal(signal.SIGINT)
        supervisor.stop()
        notify.stop_senders(senders)
        try:
            ui.wait(timeout=30)
        except subprocess.TimeoutExpired:
            ui.kill()
        if embedded:
            stop_embedded_redis(settings)


if __name__ == "__main__":
    raise SystemExit(main())
