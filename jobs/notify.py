"""Notifications: when a run completes, fails, is cancelled or stalls, when a sweep finishes and
when a model is activated, the webhooks in ``TRAINYARD_NOTIFY_URL`` receive Slack-compatible
JSON: a plain-text line (``text``), the same facts as Slack attachment ``fields``, and a
``trainyard`` object for machines (event, ids, family, status, headline metrics, link).

Emitting is one insert into the ``notification`` outbox, so a run never waits on a webhook and a
webhook's failure never touches a run. Delivery happens in background threads of each process
that has webhooks configured (every training worker, the launcher): one ``Sender`` per webhook,
so a webhook that never answers delays only itself. A sender claims due deliveries by
compare-and-set (several processes deliver each event once), posts with a timeout, and retries
with exponential backoff; what still fails after the last attempt keeps its error in the table,
the log says so, and Home shows it. Events up to ``LOOKBACK_S`` old are still delivered by a
sender that restarts; a webhook new to the database gets the events from its sender's start on.
"""
from __future__ import annotations

import hashlib
import json
import logging
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlparse

from db import queries
from db.models import RunStatus, utcnow
from db.session import session_scope
from settings import get_settings

log = logging.getLogger("trainyard.notify")

__all__ = ["EVENTS", "emit", "run_ended", "run_stalled", "sweep_finished", "model_activated", "payload", "rendered",
           "target_of", "Sender", "start_senders", "stop_senders", "deliver_once"]

EVENTS = ("run.completed", "run.failed", "run.cancelled", "run.stalled", "sweep.finished", "model.activated")
LOOKBACK_S = 3600
MAX_BACKOFF_S = 600.0
POLL_S = 1.0
COLOURS = {"completed": "good", "failed": "danger", "cancelled": "warning", "stalled": "warning",
           "activated": "good", "finished": "good"}


def target_of(url: str) -> tuple[str, str]:
    """A webhook's name in the database (a digest: Slack URLs are secrets) and its host."""
    return hashlib.sha256(url.encode()).hexdigest()[:16], urlparse(url).hostname or "?"


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def payload(event: str, text: str, fields: Mapping[str, Any], data: Mapping[str, Any], path: str) -> dict[str, Any]:
    """Slack's incoming-webhook shape: ``text`` plus one attachment of short ``fields``; the link
    to the page (``path`` under the dashboard) is added by ``rendered`` when it is sent, from the
    sender's ``TRAINYARD_PUBLIC_URL`` (the process that runs a job need not know the address)."""
    state = event.split(".", 1)[1]
    return {"text": text,
            "attachments": [{"fallback": text, "color": COLOURS.get(state, "#439FE0"), "title": text.split(" · ")[0],
                             "fields": [{"title": k, "value": _fmt(v), "short": True} for k, v in fields.items()]}],
            "trainyard": {"event": event, **data, "path": path}}


def rendered(body: Mapping[str, Any], base_url: str) -> dict[str, Any]:
    """The body as sent: its page link (``base_url/path``) in the text, the attachment and ``trainyard.link``."""
    out = json.loads(json.dumps(body))
    link = f"{base_url.rstrip('/')}/{out.get('trainyard', {}).get('path', '')}"
    out["text"] = f"{out.get('text', '')} · {link}"
    for attachment in out.get("attachments", []):
        attachment["title_link"] = link
        attachment["fallback"] = out["text"]
    out.setdefault("trainyard", {})["link"] = link
    return out


def emit(event: str, *, subject: str, subject_id: int | None, text: str, fields: Mapping[str, Any],
         data: Mapping[str, Any], path: str) -> int | None:
    """Put an event in the outbox; never raises (a notification must not break what it reports)."""
    try:
        with session_scope() as s:
            row = queries.add_notification(session=s, event=event, subject=subject, subject_id=subject_id, text=text,
                                           payload=payload(event, text, fields, data, path))
            return row.id
    except Exception:
        log.exception("could not queue the %s notification for %s %s", event, subject, subject_id)
        return None


def _headlines(family: str, task: str | None, values: Mapping[str, Any], limit: int = 3) -> dict[str, float]:
    from engine.families import FAMILIES

    try:
        heads = FAMILIES[family].headlines_for(task)
    except KeyError:
        return {}
    out = {}
    for h in heads:
        value = values.get(h.name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[h.name] = float(value)
    return dict(list(out.items())[:limit])


def run_ended(run_id: int) -> int | None:
    """Announce a run that reached completed, failed or cancelled (a pruned trial is the
    sweep's business: its end comes with ``sweep.finished``)."""
    with session_scope() as s:
        run = queries.get_run(session=s, run_id=run_id)
    if run is None or run.status not in (RunStatus.completed, RunStatus.failed, RunStatus.cancelled):
        return None
    status = run.status.value
    metrics = _headlines(run.family, run.task, run.summary or {})
    bits = [f"Run #{run.id} {run.name!r} ({run.family}) {status}"]
    bits += [f"{k} {_fmt(v)}" for k, v in metrics.items()]
    if run.status == RunStatus.failed and run.error:
        bits.append(run.error.splitlines()[0][:200])
    fields = {"run": f"#{run.id}", "family": run.family, "status": status, **metrics}
    return emit(f"run.{status}", subject="run", subject_id=run.id, text=" · ".join(bits), fields=fields,
                data={"run_id": run.id, "name": run.name, "family": run.family, "task": run.task, "status": status,
                      "metrics": metrics, "error": run.error if run.status == RunStatus.failed else None,
                      "sweep_id": run.sweep_id, "tags": list(run.tags or [])}, path=f"Progress?run={run.id}")


def run_stalled(run, minutes: float) -> int | None:
    text = (f"Run #{run.id} {run.name!r} ({run.family}) stalled · no progress for {minutes:g} min while its worker "
            f"{run.worker or '?'} still heartbeats")
    return emit("run.stalled", subject="run", subject_id=run.id, text=text,
                fields={"run": f"#{run.id}", "family": run.family, "status": "stalled", "worker": run.worker or "?"},
                data={"run_id": run.id, "name": run.name, "family": run.family, "task": run.task, "status": "stalled",
                      "worker": run.worker, "minutes": minutes, "metrics": {}}, path=f"Progress?run={run.id}")


def sweep_finished(sweep_id: int) -> int | None:
    with session_scope() as s:
        sweep = queries.get_sweep(session=s, sweep_id=sweep_id)
        runs = queries.sweep_runs(session=s, sweep_id=sweep_id) if sweep else []
    if sweep is None:
        return None
    scored = [(r.summary.get(sweep.metric), r) for r in runs if isinstance((r.summary or {}).get(sweep.metric), float)]
    best = (max if sweep.direction == "maximize" else min)(scored, key=lambda t: t[0]) if scored else None
    metrics = {sweep.metric: best[0]} if best else {}
    text = (f"Sweep #{sweep.id} {sweep.name!r} ({sweep.family}) {sweep.status} · {len(runs)} trials"
            + (f" · best {sweep.metric} {_fmt(best[0])} (run #{best[1].id})" if best else ""))
    return emit("sweep.finished", subject="sweep", subject_id=sweep.id, text=text,
                fields={"sweep": f"#{sweep.id}", "family": sweep.family, "status": sweep.status, "trials": len(runs),
                        **({"best run": f"#{best[1].id}"} if best else {}), **metrics},
                data={"sweep_id": sweep.id, "name": sweep.name, "family": sweep.family, "status": sweep.status,
                      "trials": len(runs), "best_run_id": best[1].id if best else None, "metrics": metrics},
                path=f"Learning_Curve?study={sweep.id}" if sweep.kind == "curve" else f"Sweeps?sweep={sweep.id}")


def model_activated(version_id: int, *, reason: str = "") -> int | None:
    with session_scope() as s:
        version = queries.get_model_version(session=s, model_version_id=version_id)
    if version is None:
        return None
    metrics = _headlines(version.family, version.task, version.metrics or {})
    scope = "/".join(x for x in (version.family, version.task, version.scope) if x)
    text = (f"Model #{version.id} activated for {scope} (run #{version.run_id})"
            + "".join(f" · {k} {_fmt(v)}" for k, v in metrics.items()) + (f" · {reason}" if reason else ""))
    return emit("model.activated", subject="model", subject_id=version.id, text=text,
                fields={"model": f"#{version.id}", "family": version.family, "scope": version.scope or "—",
                        "run": f"#{version.run_id}", "status": "active", **metrics},
                data={"model_version_id": version.id, "run_id": version.run_id, "family": version.family,
                      "task": version.task, "scope": version.scope, "status": "active", "metrics": metrics,
                      "reason": reason}, path="Models")


# ---- delivery ---------------------------------------------------------------------------------


def _post(url: str, body: dict[str, Any], timeout: float) -> None:
    """POST ``body`` as JSON; raises ``RuntimeError`` with a one-line reason unless it is accepted (2xx)."""
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", "User-Agent": "trainyard-notify"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (http(s) only, checked at start)
            resp.read(1024)
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"HTTP {exc.code} {exc.reason}") from None
    except (socket.timeout, TimeoutError):
        raise RuntimeError(f"no answer within {timeout:g} s") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, (socket.timeout, TimeoutError)):
            raise RuntimeError(f"no answer within {timeout:g} s") from None
        raise RuntimeError(f"unreachable: {reason}") from None
    except OSError as exc:
        raise RuntimeError(f"connection failed: {exc}") from None


def deliver_once(url: str, *, settings=None, started: datetime | None = None) -> int:
    """One pass for one webhook: make deliveries for new events, send the ones due; returns how
    many were sent successfully. ``started``: when this sender began; a webhook with no delivery
    yet gets the events from then on, not the last ``LOOKBACK_S``'s."""
    settings = settings or get_settings()
    target, host = target_of(url)
    now = utcnow()
    with session_scope() as s:
        for note in queries.undelivered_notifications(session=s, target=target, new_since=started,
                                                      since=now - timedelta(seconds=LOOKBACK_S)):
            queries.add_delivery(session=s, notification_id=note.id, target=target, host=host)
    now = utcnow()  # the deliveries just made are due too
    with session_scope() as s:
        due = queries.due_deliveries(session=s, target=target, now=now,
                                     stale_before=now - timedelta(seconds=settings.notify_timeout_s + 60))
    sent = 0
    for delivery in due:
        with session_scope() as s:
            if not queries.claim_delivery(session=s, delivery=delivery, now=utcnow()):
                continue  # another process took it
            body = queries.notification_payload(session=s, notification_id=delivery.notification_id)
        error = None
        try:
            _post(url, rendered(body, settings.resolved_public_url), settings.notify_timeout_s)
        except RuntimeError as exc:
            error = str(exc)
        attempts = delivery.attempts + 1
        retry_at = None
        if error and attempts < settings.notify_retries:
            retry_at = utcnow() + timedelta(seconds=min(settings.notify_backoff_s * 2 ** (attempts - 1), MAX_BACKOFF_S))
        with session_scope() as s:
            queries.finish_delivery(session=s, delivery_id=delivery.id, delivered=error is None, error=error,
                                    retry_at=retry_at)
        if error is None:
            sent += 1
        elif retry_at is None:
            log.error("notification #%s to %s given up after %d attempts: %s", delivery.notification_id, host,
                      attempts, error)
        else:
            log.warning("notification #%s to %s failed (attempt %d of %d, next in %.0f s): %s",
                        delivery.notification_id, host, attempts, settings.notify_retries,
                        (retry_at - utcnow()).total_seconds(), error)
    return sent


class Sender(threading.Thread):
    """Delivers to one webhook in the background until ``stop()``."""

    def __init__(self, url: str, *, interval: float = POLL_S) -> None:
        super().__init__(name=f"trainyard-notify-{target_of(url)[1]}", daemon=True)
        self.url, self.interval = url, interval
        self.started = utcnow()
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.wait(self.interval):
            try:
                deliver_once(self.url, started=self.started)
            except Exception:  # the database may be briefly unreachable: try again next round
                log.exception("notification pass for %s failed", target_of(self.url)[1])

    def stop(self) -> None:
        self._stopped.set()


def start_senders(urls: list[str] | None = None) -> list[Sender]:
    """One started ``Sender`` per configured http(s) webhook (a URL of another scheme is skipped
    with a warning)."""
    senders = []
    for url in get_settings().notify_urls if urls is None else urls:
        if urlparse(url).scheme not in ("http", "https"):
            log.warning("TRAINYARD_NOTIFY_URL: %r is not an http(s) URL; skipped", url.split("?")[0])
            continue
        sender = Sender(url)
        sender.start()
        senders.append(sender)
    if senders:
        log.info("notifications go to %s", ", ".join(target_of(s.url)[1] for s in senders))
    return senders


def stop_senders(senders: list[Sender]) -> None:
    for sender in senders:
        sender.stop()
