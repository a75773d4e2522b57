"""Notifications: an outbox of events, and their delivery to each webhook (attempts, errors)."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, update
from sqlmodel import Session, col, select

from db.models import Notification, NotificationDelivery, utcnow

__all__ = ["add_notification", "undelivered_notifications", "add_delivery", "claim_delivery", "due_deliveries",
           "finish_delivery", "delivery_failures", "notifications_about", "notification_payload"]


def add_notification(*, session: Session, event: str, subject: str, subject_id: int | None, text: str,
                     payload: Mapping[str, Any]) -> Notification:
    row = Notification(event=event, subject=subject, subject_id=subject_id, text=text, payload=dict(payload))
    session.add(row)
    session.flush()
    return row


def undelivered_notifications(*, session: Session, target: str, since: datetime, new_since: datetime | None = None,
                               limit: int = 100) -> list[Notification]:
    """Notifications created since ``since`` that have no delivery row for ``target`` yet, oldest
    first. With ``new_since``, none from before the webhook's first event (its oldest delivery's),
    or, for a webhook with no delivery yet, from before ``new_since``: a webhook added today is
    not sent the last hour's events."""
    taken = select(NotificationDelivery.notification_id).where(NotificationDelivery.target == target)
    stmt = select(Notification).where(col(Notification.created_at) >= since, col(Notification.id).not_in(taken))
    if new_since is not None:
        first = (select(func.min(Notification.created_at))
                 .join(NotificationDelivery, col(NotificationDelivery.notification_id) == col(Notification.id))
                 .where(NotificationDelivery.target == target).scalar_subquery())
        stmt = stmt.where(col(Notification.created_at) >= func.coalesce(first, new_since))
    return list(session.exec(stmt.order_by(Notification.id).limit(limit)))


def add_delivery(*, session: Session, notification_id: int, target: str, host: str) -> None:
    """A pending delivery of one notification to one webhook; nothing when another process
    already made it (the unique (notification, target) pair decides)."""
    values = dict(notification_id=notification_id, target=target, host=host, status="pending", attempts=0,
                  next_at=utcnow(), updated_at=utcnow())
    name = session.get_bind().dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    session.exec(insert(NotificationDelivery).values(**values).on_conflict_do_nothing())


def due_deliveries(*, session: Session, target: str, now: datetime, stale_before: datetime,
                   limit: int = 20) -> list[NotificationDelivery]:
    """Deliveries to ``target`` due now: pending ones whose time has come, and ones a dead
    process left ``sending`` since before ``stale_before``."""
    stmt = (select(NotificationDelivery)
            .where(NotificationDelivery.target == target,
                   or_(and_(NotificationDelivery.status == "pending", col(NotificationDelivery.next_at) <= now),
                       and_(NotificationDelivery.status == "sending",
                            col(NotificationDelivery.claimed_at) < stale_before)))
            .order_by(NotificationDelivery.id).limit(limit))
    return list(session.exec(stmt))


def claim_delivery(*, session: Session, delivery: NotificationDelivery, now: datetime) -> bool:
    """Compare-and-set the delivery to ``sending`` from the state it was read in: only one
    process sends it."""
    stmt = (update(NotificationDelivery)
            .where(NotificationDelivery.id == delivery.id, NotificationDelivery.status == delivery.status,
                   NotificationDelivery.attempts == delivery.attempts)
            .values(status="sending", claimed_at=now, updated_at=now))
    return session.exec(stmt).rowcount == 1


def finish_delivery(*, session: Session, delivery_id: int, delivered: bool, error: str | None = None,
                    retry_at: datetime | None = None) -> None:
    """Record one attempt: delivered; or failed, to try again at ``retry_at`` (None: given up)."""
    now = utcnow()
    row = session.get(NotificationDelivery, delivery_id)
    if row is None:
        return
    row.attempts += 1
    row.updated_at = now
    row.claimed_at = None
    if delivered:
        row.status, row.delivered_at, row.last_error = "delivered", now, None
    else:
        row.last_error = error
        row.status = "pending" if retry_at is not None else "failed"
        if retry_at is not None:
            row.next_at = retry_at
    session.add(row)


def delivery_failures(*, session: Session, since: datetime,
                      limit: int = 20) -> list[tuple[NotificationDelivery, Notification]]:
    """Deliveries that failed at least once since ``since`` and are not delivered, newest first."""
    stmt = (select(NotificationDelivery, Notification)
            .join(Notification, Notification.id == NotificationDelivery.notification_id)
            .where(NotificationDelivery.status != "delivered", col(NotificationDelivery.last_error).is_not(None),
                   col(NotificationDelivery.updated_at) >= since)
            .order_by(col(NotificationDelivery.updated_at).desc()).limit(limit))
    return list(session.exec(stmt))


def notifications_about(*, session: Session, subject: str, subject_id: int) -> list[Notification]:
    stmt = select(Notification).where(Notification.subject == subject, Notification.subject_id == subject_id)
    return list(session.exec(stmt.order_by(Notification.id)))


def notification_payload(*, session: Session, notification_id: int) -> dict[str, Any]:
    row = session.get(Notification, notification_id)
    return dict(row.payload) if row else {}
