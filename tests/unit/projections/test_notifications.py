"""The notifications read model, applied in memory."""

from __future__ import annotations

from domain.people import Inbox
from projections.events import Event, NotificationRead, NotificationSent
from projections.notifications import NotificationsProjection
from tests.unit.projections.memory import Log, Tables, erasure, unreadable


def sent(log: Log, user: str, notification_id: str = "n1") -> NotificationSent:
    return log.event(
        NotificationSent,
        Inbox.create_id(log.tenant, user),
        notification_id=notification_id,
        kind="mention",
        title=f"for {user}",
        body="you were named",
        data={"from": "bob"},
        priority="normal",
    )


def applied(*events: Event) -> Tables:
    return Tables().apply(NotificationsProjection(), *events)


def test_erasing_a_user_redacts_their_notifications_and_keeps_when_they_were_read() -> None:
    log, other = Log(), Log(tenant="other")
    ann = Inbox.create_id("acme", "ann")
    events = [sent(log, "ann"), log.event(NotificationRead, ann, notification_id="n1")]
    kept = [sent(log, "bob"), sent(other, "ann")]
    before = applied(*events).one("notifications", inbox_id=ann)
    tables = applied(*events, *kept, erasure(log, "user:ann"))
    assert tables.one("notifications", inbox_id=ann) == before | dict.fromkeys(
        ("title", "body", "data")
    )
    for notification in kept:
        row = tables.one("notifications", inbox_id=notification.aggregate_id)
        assert row["title"] == notification.title


def test_a_rebuild_after_erasing_a_user_makes_the_rows_the_erasure_left() -> None:
    log = Log()
    events = [sent(log, "ann"), sent(log, "ann", "n2")]
    tombstone = erasure(log, "user:ann")
    assert applied(*map(unreadable, events), tombstone).rows == applied(*events, tombstone).rows
