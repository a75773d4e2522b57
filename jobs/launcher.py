"""``python -m jobs.launcher``: the one-command embedded mode behind ``make run``.

Upgrades the database, starts the embedded Redis (unless ``REDIS_URL`` is set) and
``TRAINYARD_WORKERS`` worker processes plus one scoring worker, then serves the dashboard; Ctrl+C stops them all.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys

from db.migrate import upgrade
from jobs.connection import ensure_embedded_redis, stop_embedded_redis
from settings import get_settings


def _terminate(signum, frame) -> None:
    raise KeyboardInterrupt  # SIGTERM cleans up like Ctrl+C


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
    workers = [subprocess.Popen([sys.executable, "-m", "jobs.worker", "--name", f"local-{i + 1}-{os.getpid()}"],
                                env=env) for i in range(settings.workers)]
    # the scoring lane: predictions for the pages, never behind a training run
    workers.append(subprocess.Popen([sys.executable, "-m", "jobs.worker", "--scoring",
                                     "--name", f"local-scoring-{os.getpid()}"], env=env))
    print(f"started {len(workers) - 1} local worker(s) and a scoring worker")
    ui = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "Home.py",
                           "--server.port", str(settings.port), "--server.headless", "true",
                           "--browser.gatherUsageStats", "false"], env=env)
    try:
        return ui.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        for proc in [ui, *workers]:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)  # RQ finishes or requeues its job
        for proc in [ui, *workers]:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        if embedded:
            stop_embedded_redis(settings)


if __name__ == "__main__":
    raise SystemExit(main())
