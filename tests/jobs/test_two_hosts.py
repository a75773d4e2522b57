"""Two worker hosts, proven (issue 20, part 5): the README's scale-out recipe, run.

Host A and host B each have their own home folder and their own working copy of the project
(copied from this checkout), and share only the database, Redis and the artifact folder, as
two machines would. The test process plays the dashboard. Host A's registration is relabelled
with another host name, so the other workers judge it as a remote machine (by its heartbeat,
not its pid). Embedded default: one SQLite file and one embedded Redis, reached by both hosts
through their URLs; services pass (``DATABASE_URL``/``REDIS_URL`` set): a fresh PostgreSQL
database and a Redis database of its own on that server.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from tests.conftest import FIXTURE_FAMILIES, ROOT, _reset_caches, create_postgres_database, settle_worker, wait_for_status

REMOTE_DEAD_AFTER_S = 12  # how long the other host waits on a silent busy worker (45 s by default)
SLOW = {"epochs": 30, "batches": 4, "sleep_s": 0.1}  # ~12 s unless stopped


@dataclass
class Host:
    name: str
    home: Path
    code: Path
    env: dict
    procs: list

    def start(self, *args: str) -> str:
        """``python -m jobs.worker`` from this host's working copy; its worker name once registered."""
        from jobs.api import list_workers

        name = f"{self.name}-{uuid.uuid4().hex[:6]}"
        log = open(self.home / f"{name}.log", "w")
        proc = subprocess.Popen([sys.executable, "-m", "jobs.worker", "--name", name, *args], cwd=self.code,
                                env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        deadline = time.monotonic() + 180
        while not any(w.name == name for w in list_workers()):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker {name} did not start:\n{(self.home / f'{name}.log').read_text()}")
            time.sleep(0.1)
        return name

    def disappear(self) -> None:
        """The machine goes away: every process of this host killed at once."""
        procs = []
        for p in self.procs:
            try:
                procs += [psutil.Process(p.pid), *psutil.Process(p.pid).children(recursive=True)]
            except psutil.NoSuchProcess:
                pass
        for p in procs:
            try:
                p.send_signal(signal.SIGKILL)
            except psutil.NoSuchProcess:
                pass
        for p in self.procs:
            p.wait()

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


def _working_copy(dest: Path) -> Path:
    """This checkout's files (tracked and untracked, not ignored) copied to ``dest``."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                            capture_output=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


def _own_redis_db(url: str, db: int = 9) -> str:
    """``url`` on Redis database ``db``: this test's queues and workers, no one else's."""
    base, _, tail = url.partition("://")
    host = tail.split("/", 1)[0].split("?", 1)[0]
    return f"{base}://{host}/{db}"


@pytest.fixture(scope="module")
def hosts(tmp_path_factory):
    root = Path(tmp_path_factory.mktemp("two-hosts"))
    shared = root / "shared"
    (shared / "artifacts").mkdir(parents=True)
    saved = dict(os.environ)
    drop = None
    from settings import Settings

    if saved.get("DATABASE_URL", "").startswith("postgres"):
        database_url, drop = create_postgres_database(saved["DATABASE_URL"])
    else:
        database_url = f"sqlite:///{shared / 'trainyard.db'}"
    embedded = not saved.get("REDIS_URL", "").startswith(("redis://", "rediss://"))  # unix://: the suite's own
    if embedded:  # one embedded server for both hosts: it lives in the shared folder, reached by its URL
        from jobs.connection import ensure_embedded_redis

        redis_url = ensure_embedded_redis(Settings(TRAINYARD_HOME=shared, REDIS_URL=None))
    else:
        redis_url = _own_redis_db(saved["REDIS_URL"])
    common = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "TRAINYARD_ARTIFACTS": str(shared / "artifacts"),
              "TRAINYARD_EXTRA_FAMILIES": FIXTURE_FAMILIES, "TRAINYARD_RESOURCE_INTERVAL": "0.3",
              "TRAINYARD_REMOTE_DEAD_AFTER_S": str(REMOTE_DEAD_AFTER_S)}
    os.environ.update({**common, "TRAINYARD_HOME": str(root / "dashboard")})
    _reset_caches()
    from db.migrate import upgrade
    from jobs.connection import QUEUE_NAMES, SCORING_QUEUE, get_redis

    upgrade()
    if not embedded:
        get_redis().delete(*[f"rq:queue:{q}" for q in (*QUEUE_NAMES, SCORING_QUEUE)])
    made = {}
    for name in ("host-a", "host-b"):
        home = root / name / "home"
        home.mkdir(parents=True)
        code = _working_copy(root / name / "code")
        env = {k: v for k, v in saved.items() if k not in ("DATABASE_URL", "REDIS_URL", "TRAINYARD_HOME")}
        made[name] = Host(name, home, code, {**env, **common, "TRAINYARD_HOME": str(home)}, [])
    yield made["host-a"], made["host-b"]
    for host in made.values():
        host.stop()
    if embedded:
        from jobs.connection import stop_embedded_redis

        stop_embedded_redis(Settings(TRAINYARD_HOME=shared, REDIS_URL=None))
    os.environ.clear()
    os.environ.update(saved)
    if drop:
        drop()
    _reset_caches()


def _relabel(worker_name: str, hostname: str) -> None:
    """Make the other workers see this worker on another machine (RQ writes the host name once)."""
    from jobs.connection import get_redis

    get_redis().hset(f"rq:worker:{worker_name}", "hostname", hostname)


def _checkpoints(run_id: int) -> list:
    from db import queries
    from db.session import session_scope

    with session_scope() as s:
        return queries.list_checkpoints(session=s, run_id=run_id)


def _steps(run_id: int) -> list[int]:
    from db import queries
    from db.session import session_scope

    with session_scope() as s:
        return [m.step for m in queries.metric_rows(session=s, run_id=run_id, names=["val/loss"])]


def test_a_run_from_host_a_resumes_on_host_b_which_also_serves_a_models_predictions(hosts):
    from db import queries
    from db.models import RunStatus
    from db.session import session_scope
    from engine.checkpoints import load_checkpoint
    from jobs import api
    from jobs.manifest import manifest_of

    host_a, host_b = hosts
    ended = [RunStatus.completed, RunStatus.failed, RunStatus.cancelled]
    worker_a = host_a.start("--queues", "default")
    _relabel(worker_a, "host-a.invalid")

    # a model trained on A, in the shared artifact folder
    first = api.submit_run(family="toy", config={"epochs": 2}, priority="default")
    assert wait_for_status(first.id, ended, timeout=240).status == RunStatus.completed
    with session_scope() as s:
        (model,) = queries.model_versions_for_runs(session=s, run_ids=[first.id])
    assert manifest_of(first.id)["worker"] == worker_a
    assert Path(model.artifact_path).is_relative_to(host_a.env["TRAINYARD_ARTIFACTS"])

    # B comes up (a training worker on both queues, the scoring lane) and takes a run of its own;
    # A, idle, takes the next one
    worker_b = host_b.start("--queues", "high,default")
    scoring_b = host_b.start("--scoring")
    settle_worker(host_a.procs[0].pid)
    settle_worker(host_b.procs[0].pid)
    own = api.submit_run(family="toy", config={"epochs": 25, "batches": 4, "sleep_s": 0.1}, priority="high")
    wait_for_status(own.id, [RunStatus.training], timeout=240)
    moved = api.submit_run(family="toy", config={**SLOW, "keep_checkpoints": 3}, priority="default")
    wait_for_status(moved.id, [RunStatus.training], timeout=240)
    assert manifest_of(moved.id)["worker"] == worker_a
    deadline = time.monotonic() + 60
    while len(_checkpoints(moved.id)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)

    # host A disappears mid-run: its run fails as lost; B's run goes on
    host_a.disappear()
    gone_at = time.monotonic()
    lost = wait_for_status(moved.id, [RunStatus.failed, RunStatus.completed], timeout=REMOTE_DEAD_AFTER_S + 60)
    took = time.monotonic() - gone_at
    print(f"host A gone -> its run failed after {took:.1f} s: {lost.error}")
    assert lost.status == RunStatus.failed and lost.error.startswith("worker lost:"), lost.error
    assert worker_a in lost.error and "host-a.invalid" in lost.error
    mine = wait_for_status(own.id, ended, timeout=240)
    assert mine.status == RunStatus.completed and mine.worker == worker_b, (mine.status, mine.error)
    assert _steps(own.id) == list(range(25))

    # B's scoring lane serves the model A trained, verified against the database's sha256
    state = load_checkpoint(model.artifact_path)["model"]
    x = [1.0, 2.0, -0.5]
    expected = sum(float(w) * v for w, v in zip(state["weight"][0], x)) + float(state["bias"][0])
    answer = api.request_prediction(model.id, {"x": x}, timeout_s=120)
    assert answer["y"] == pytest.approx(expected)
    from jobs import queues

    served = [j for j in (queues.fetch_job(i) for i in queues.queue("scoring").finished_job_registry.get_job_ids())
              if j is not None]
    assert served and {j.worker_name for j in served} == {scoring_b}

    # the run A left is resumed on B from A's last registered checkpoint, and finishes there
    trained_on_a = _steps(moved.id)
    resumed = api.resume_run(moved.id)
    assert resumed.resume_from == _checkpoints(moved.id)[-1].path
    done = wait_for_status(moved.id, ended, timeout=240)
    assert done.status == RunStatus.completed, done.error
    assert done.worker == worker_b and manifest_of(moved.id)["resume"]["path"] == resumed.resume_from
    assert _steps(moved.id) == list(range(SLOW["epochs"])) and len(trained_on_a) >= 2
