"""``python -m jobs.launcher``: the one-command embedded mode behind ``make run``.

Upgrades the database, starts the embedded Redis (unless ``REDIS_URL`` is set) and
``TRAINYARD_WORKERS`` worker processes, reconciles the queue with the database, then serves the
dashboard while a supervisor restarts Redis or a worker that dies; Ctrl+C stops them all.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from db.migrate import upgrade
from jobs.connection import ensure_embedded_redis, stop_embedded_redis
from jobs.supervisor import CHECK_EVERY_S, Supervisor
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
    from jobs.reaper import reconcile

    result = reconcile()
    if result["failed"] or result["requeued"]:
        print(f"reconciled: failed as lost {result['failed']}, queued again {result['requeued']}")
    supervisor = Supervisor(settings=settings, env=env,
                            worker_names=[f"local-{i + 1}-{os.getpid()}" for i in range(settings.workers)])
    supervisor.start_workers()
    print(f"started {len(supervisor.workers)} local worker(s)")
    ui = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "Home.py",
                           "--server.port", str(settings.port), "--server.headless", "true",
                           "--browser.gatherUsageStats", "false"], env=env)
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
        try:
            ui.wait(timeout=30)
        except subprocess.TimeoutExpired:
            ui.kill()
        if embedded:
            stop_embedded_redis(settings)


if __name__ == "__main__":
    raise SystemExit(main())
