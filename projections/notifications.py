"""Read model of users' notifications: each user's, newest first, with the unread count.

A notification's title, body and data are personal: an erasure of its user leaves them
NULL."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import Connection

from domain.people import Inbox
from domain.privacy import PERSONAL_EVENTS
from projections.base import READ_SCHEMA, AddedColumn, NullableColumn, Statement
from projections.erasure import erased
from projections.events import Event, NotificationRead, NotificationSent, SubjectErased, names
from projections.pages import before, page_of

TABLE = "notifications"
ERASABLE = PERSONAL_EVENTS[Inbox]["NotificationSent"].fields  # each a column
COLUMNS = "notification_id, kind, title, body, data, priority, sent_at, read_at, position"


class NotificationsProjection:
    """A row per notification, by inbox (a user of a tenant)."""

    name = "notifications"
    tables: tuple[str, ...] = (TABLE,)
    added_columns: tuple[AddedColumn, ...] = ()
    nullable_columns: tuple[NullableColumn, ...] = tuple(
        NullableColumn(TABLE, name) for name in ERASABLE
    )
    event_types = names(NotificationSent, NotificationRead, SubjectErased)

    def ddl(self) -> Iterable[str]:
        yield (
            "CREATE TABLE {schema}.notifications ("
            " inbox_id uuid NOT NULL, notification_id text NOT NULL, tenant_id text NOT NULL,"
            " kind text NOT NULL, title text, body text, data jsonb,"
            " priority text NOT NULL, sent_at timestamptz NOT NULL, read_at timestamptz,"
            " position bigint NOT NULL, PRIMARY KEY (inbox_id, notification_id))"
        )
        yield "CREATE INDEX ON {schema}.notifications (inbox_id, position DESC)"

    def apply(self, event: Event) -> Iterable[Statement]:
        match event:
            case NotificationSent():
                yield Statement.insert(
                    TABLE,
                    inbox_id=event.aggregate_id,
                    notification_id=event.notification_id,
                    tenant_id=event.metadata.tenant_id,
                    kind=event.kind,
                    title=event.title,
                    body=event.body,
                    data=None if event.data is None else json.dumps(event.data),
                    priority=event.priority,
                    sent_at=event.recorded_at,
                    read_at=None,
                    position=event.position,
                )
            case NotificationRead(notification_id=notification_id):
                yield Statement.update(
                    TABLE,
                    {"inbox_id": event.aggregate_id, "notification_id": notification_id},
                    read_at=event.recorded_at,
                )
            case SubjectErased(tenant_id=tenant):
                if (user := erased(event, "user")) is not None:
                    where = {"inbox_id": Inbox.create_id(tenant, user), "tenant_id": tenant}
                    yield Statement.update(TABLE, where, **dict.fromkeys(ERASABLE))


@dataclass(frozen=True)
class NotificationRow:
    notification_id: UUID
    kind: str
    title: str | None  # None: erased, as are the body and data
    body: str | None
    data: dict[str, Any] | None
    priority: str
    sent_at: datetime
    read_at: datetime | None
    position: int


def user_notifications(
    conn: Connection[dict[str, Any]],
    tenant_id: str,
    user_id: str,
    unread_only: bool,
    after: int | None,
    limit: int,
) -> tuple[list[NotificationRow], int, int | None]:
    """A user's notifications, newest first (only the unread ones, if asked); the
    number unread; the cursor (a position) of the next page."""
    inbox = Inbox.create_id(tenant_id, user_id)
    unread = " AND read_at IS NULL" if unread_only else ""
    rows = conn.execute(
        f"SELECT {COLUMNS} FROM {READ_SCHEMA}.notifications"
        f" WHERE inbox_id = %s AND tenant_id = %s AND position < %s{unread}"
        " ORDER BY position DESC LIMIT %s",
        (inbox, tenant_id, before(after), limit + 1),
    ).fetchall()
    count = conn.execute(
        f"SELECT count(*) AS n FROM {READ_SCHEMA}.notifications"
        " WHERE inbox_id = %s AND tenant_id = %s AND read_at IS NULL",
        (inbox, tenant_id),
    ).fetchone()
    page, cursor = page_of(rows, limit, "position")
    return [_row(r) for r in page], int(count["n"]) if count else 0, cursor


def _row(row: dict[str, Any]) -> NotificationRow:
    return NotificationRow(**(row | {"notification_id": UUID(row["notification_id"])}))


def user_notification(
    conn: Connection[dict[str, Any]], tenant_id: str, user_id: str, notification_id: UUID
) -> NotificationRow | None:
    """One of a user's notifications, or None."""
    row = conn.execute(
        f"SELECT {COLUMNS} FROM {READ_SCHEMA}.notifications"
        " WHERE inbox_id = %s AND tenant_id = %s AND notification_id = %s",
        (Inbox.create_id(tenant_id, user_id), tenant_id, str(notification_id)),
    ).fetchone()
    return None if row is None else _row(row)
