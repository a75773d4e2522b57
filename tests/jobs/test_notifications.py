"""Notifications reach webhooks without ever holding a run up: real receivers on local ports (one
that accepts, one that answers 500, one that never answers), a real worker process that has them
in TRAINYARD_NOTIFY_URL, runs on the queue that complete, fail and stall, a model activated, a
sweep finished; failed deliveries show on Home."""
from __future__ import annotations

import json
import socket
import threading
import time
from datetime import timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlmodel import col, select
from streamlit.testing.v1 import AppTest

from db import queries
from db.models import NotificationDelivery, RunStatus
from db.session import session_scope
from engine.sweeps import validate_spec
from jobs import api, registry
from jobs.notify import target_of
from jobs.sweeps import submit_sweep
from tests.conftest import settle_worker, start_worker, stop_worker, wait_for_status

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 4  # TRAINYARD_NOTIFY_TIMEOUT_S of the notifying worker
ENDED = [RunStatus.completed, RunStatus.failed, RunStatus.cancelled]


class Receiver:
    """An HTTP server on a free local port that records every JSON body it gets (and when)."""

    def __init__(self, status: int = 200) -> None:
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append((time.time(), json.loads(body)))
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok" if status == 200 else b"broken")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self, run_id: int) -> dict[str, tuple[float, dict]]:
        return {b["trainyard"]["event"]: (t, b) for t, b in self.received if b["trainyard"].get("run_id") == run_id}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hooks(stack, worker, monkeypatch):
    ok, broken = Receiver(200), Receiver(500)
    silent = socket.socket()  # accepts connections (the kernel's backlog) and never answers them
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)
    silent_url = f"http://127.0.0.1:{silent.getsockname()[1]}/never"
    for key, value in {"TRAINYARD_NOTIFY_URL": f"{ok.url}, {broken.url} {silent_url}",
                       "TRAINYARD_PUBLIC_URL": "https://trainyard.example.org", "TRAINYARD_NOTIFY_TIMEOUT_S": str(TIMEOUT_S),
                       "TRAINYARD_NOTIFY_RETRIES": "2", "TRAINYARD_NOTIFY_BACKOFF_S": "0.2",
                       "TRAINYARD_STALL_MINUTES": "0.05"}.items():
        monkeypatch.setenv(key, value)
    # this worker takes no runs (it listens to a queue nobody uses): it only delivers and checks for stalls
    notifier = start_worker(stack, "notifier", "--queues", "notify-idle", "--no-preload")
    yield ok, broken, silent_url
    stop_worker(notifier)
    ok.close()
    broken.close()
    silent.close()


def _wait(predicate, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.2)
    return value


def _deliveries(notification_ids: list[int], target: str) -> list[NotificationDelivery]:
    with session_scope() as s:
        return list(s.exec(select(NotificationDelivery).where(NotificationDelivery.target == target,
                                                              col(NotificationDelivery.notification_id).in_(notification_ids))))


def test_completed_failed_and_stalled_runs_reach_the_webhooks_and_a_broken_one_holds_nothing_up(hooks, worker):
    ok, broken, silent_url = hooks
    settle_worker(worker.pid)  # its warm training interpreter is ready: the run's time is its own
    completed = api.submit_run(family="toy", config={"epochs": 2})
    failed = api.submit_run(family="toy", config={"epochs": 3, "fail_at_epoch": 1})
    stalled = api.submit_run(family="toy", config={"epochs": 1, "batches": 1, "sleep_s": 10})
    runs = {r.id: wait_for_status(r.id, ENDED, timeout=120) for r in (completed, failed, stalled)}
    assert runs[completed.id].status == RunStatus.completed and runs[stalled.id].status == RunStatus.completed
    assert runs[failed.id].status == RunStatus.failed and "planted failure" in runs[failed.id].error
    # a run's own time: the webhook that never answers (4 s per try) is not in it
    took = (runs[completed.id].finished_at - runs[completed.id].started_at).total_seconds()
    assert took < TIMEOUT_S, took

    got = _wait(lambda: (e := ok.events(completed.id)) and "run.completed" in e and e)
    when, body = got["run.completed"]
    finished = runs[completed.id].finished_at.replace(tzinfo=runs[completed.id].finished_at.tzinfo or timezone.utc)
    # not queued behind the silent webhook: behind it, the three runs' events would wait out at
    # least three of its 4 s tries; the bound leaves room for a busy machine
    assert when - finished.timestamp() < 2 * TIMEOUT_S
    data = body["trainyard"]
    assert data["run_id"] == completed.id and data["family"] == "toy" and data["status"] == "completed"
    assert set(data["metrics"]) == {"val/loss"}
    assert data["link"] == f"https://trainyard.example.org/Progress?run={completed.id}"
    assert body["text"].startswith(f"Run #{completed.id} ") and "val/loss" in body["text"] and data["link"] in body["text"]
    fields = {f["title"]: f["value"] for f in body["attachments"][0]["fields"]}
    assert fields["run"] == f"#{completed.id}" and fields["status"] == "completed" and "val/loss" in fields

    failure = _wait(lambda: ok.events(failed.id).get("run.failed"))[1]["trainyard"]
    assert failure["run_id"] == failed.id and "planted failure at epoch 1" in failure["error"]
    stall = _wait(lambda: ok.events(stalled.id).get("run.stalled"))[1]
    assert stall["trainyard"]["run_id"] == stalled.id and "no progress for 0.05 min" in stall["text"]
    assert "run.completed" in _wait(lambda: ok.events(stalled.id).get("run.completed") and ok.events(stalled.id))
    with session_scope() as s:
        assert queries.get_run(session=s, run_id=stalled.id).stalled_at is None  # cleared when it moved on

    with session_scope() as s:
        notes = [n.id for n in queries.notifications_about(session=s, subject="run", subject_id=completed.id)]
    assert len(notes) == 1
    gave_up = _wait(lambda: [d for d in _deliveries(notes, target_of(broken.url)[0]) if d.status == "failed"])
    assert gave_up[0].attempts == 2 and gave_up[0].last_error.startswith("HTTP 500")
    assert len([1 for _, b in broken.received if b["trainyard"].get("run_id") == completed.id
                and b["trainyard"]["event"] == "run.completed"]) == 2  # the first try and one retry
    with session_scope() as s:
        silent = select(NotificationDelivery).where(NotificationDelivery.target == target_of(silent_url)[0],
                                                    col(NotificationDelivery.last_error).is_not(None))
        hanging = _wait(lambda: s.exec(silent).first())
    assert hanging.last_error == f"no answer within {TIMEOUT_S} s"

    with session_scope() as s:  # activated by hand: announced like the policy's activations
        version = queries.model_versions_for_runs(session=s, run_ids=[stalled.id])[0]
    registry.activate(version.id, actor="test")
    activated = _wait(lambda: [b for _, b in ok.received if b["trainyard"]["event"] == "model.activated"
                               and b["trainyard"]["model_version_id"] == version.id])
    assert activated[-1]["trainyard"]["run_id"] == stalled.id and activated[-1]["trainyard"]["link"].endswith("/Models")

    sweep = submit_sweep(family="toy", spec=validate_spec({"method": "grid", "space": {"lr": [0.1], "epochs": 1}}))
    finished = _wait(lambda: [b for _, b in ok.received if b["trainyard"]["event"] == "sweep.finished"
                              and b["trainyard"]["sweep_id"] == sweep.id], timeout=120)[0]["trainyard"]
    assert finished["status"] == "completed" and finished["trials"] == 1 and finished["best_run_id"]
    assert finished["link"] == f"https://trainyard.example.org/Sweeps?sweep={sweep.id}"

    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=60)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert any("could not be delivered" in w.value for w in at.warning)
    assert any("HTTP 500" in c.value and "127.0.0.1" in c.value for c in at.caption)


def test_a_webhook_added_later_gets_no_backlog_and_a_restarted_sender_catches_up(stack):
    from db.models import utcnow
    from jobs import notify

    hook = Receiver(200)
    try:
        def note(tag: str) -> int:
            return notify.emit("sweep.finished", subject="test", subject_id=None, text=tag, fields={},
                               data={"tag": tag}, path="Sweeps")

        def tags() -> list[str]:
            return [b["trainyard"].get("tag") for _, b in hook.received]

        note("before the webhook was added")
        started = utcnow()
        note("after it was added")
        assert notify.deliver_once(hook.url, started=started) >= 1
        assert "after it was added" in tags() and "before the webhook was added" not in tags()
        note("while its sender was down")
        notify.deliver_once(hook.url, started=utcnow())  # restarted later: it has deliveries, so it catches up
        assert "while its sender was down" in tags() and "before the webhook was added" not in tags()
        assert len(tags()) == len(set(tags()))  # each event once
    finally:
        hook.close()
