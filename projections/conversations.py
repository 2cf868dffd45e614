"""Read model of conversations: the per-tenant list (newest first) and each one's detail.

A title is personal: an erasure of its conversation leaves it NULL."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import Connection

from projections.base import READ_SCHEMA, AddedColumn, NullableColumn, Plus, Statement
from projections.erasure import erased_container
from projections.events import (
    ConversationArchived,
    ConversationRenamed,
    ConversationStarted,
    Event,
    MessagePosted,
    ParticipantJoined,
    ParticipantLeft,
    SubjectErased,
    names,
)
from projections.pages import before, page_of

TABLE = "conversations"


class ConversationsProjection:
    """One row per conversation, with message count and last activity."""

    name = "conversations"
    tables: tuple[str, ...] = (TABLE,)
    added_columns: tuple[AddedColumn, ...] = ()
    nullable_columns: tuple[NullableColumn, ...] = (NullableColumn(TABLE, "title"),)
    event_types = names(
        ConversationStarted,
        MessagePosted,
        ConversationRenamed,
        ConversationArchived,
        ParticipantJoined,
        ParticipantLeft,
        SubjectErased,
    )

    def ddl(self) -> Iterable[str]:
        yield (
            "CREATE TABLE {schema}.conversations ("
            " id uuid PRIMARY KEY, tenant_id text NOT NULL, title text,"
            " participants jsonb NOT NULL, message_count integer NOT NULL DEFAULT 0,"
            " archived boolean NOT NULL DEFAULT false, version integer NOT NULL,"
            " created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL,"
            " last_activity_at timestamptz NOT NULL, started_position bigint NOT NULL)"
        )
        yield ("CREATE INDEX ON {schema}.conversations (tenant_id, started_position DESC)")

    def apply(self, event: Event) -> Iterable[Statement]:
        at, version, this = event.recorded_at, event.version, {"id": event.aggregate_id}
        match event:
            case ConversationStarted(tenant_id=tenant, title=title, participants=participants):
                yield Statement.insert(
                    TABLE,
                    id=event.aggregate_id,
                    tenant_id=tenant,
                    title=title,
                    participants=json.dumps(participants),
                    message_count=0,
                    archived=False,
                    version=version,
                    created_at=at,
                    updated_at=at,
                    last_activity_at=at,
                    started_position=event.position,
                )
            case MessagePosted():
                yield Statement.update(
                    TABLE,
                    this,
                    message_count=Plus(1),
                    version=version,
                    updated_at=at,
                    last_activity_at=at,
                )
            case ConversationRenamed(title=title):
                yield Statement.update(TABLE, this, title=title, version=version, updated_at=at)
            case ConversationArchived():
                yield Statement.update(TABLE, this, archived=True, version=version, updated_at=at)
            case (
                ParticipantJoined(participants=participants)
                | ParticipantLeft(participants=participants)
            ):
                yield Statement.update(
                    TABLE,
                    this,
                    participants=json.dumps(participants),
                    version=version,
                    updated_at=at,
                )
            case SubjectErased(tenant_id=tenant):
                # The row's version and times stay: they are the conversation's.
                if (erased := erased_container(event, "conversation")) is not None:
                    yield Statement.update(TABLE, {"id": erased, "tenant_id": tenant}, title=None)


@dataclass(frozen=True)
class ConversationRow:
    id: UUID
    title: str | None  # None: erased
    participants: list[str]
    message_count: int
    archived: bool
    version: int
    created_at: datetime
    updated_at: datetime
    last_activity_at: datetime


COLUMNS = (
    "id, title, participants, message_count, archived, version,"
    " created_at, updated_at, last_activity_at"
)


def _row(values: dict[str, Any]) -> ConversationRow:
    return ConversationRow(**{k: values[k] for k in ConversationRow.__dataclass_fields__})


def get_conversation(
    conn: Connection[dict[str, Any]], tenant_id: str, conversation_id: UUID
) -> ConversationRow | None:
    row = conn.execute(
        f"SELECT {COLUMNS} FROM {READ_SCHEMA}.conversations WHERE id = %s AND tenant_id = %s",
        (conversation_id, tenant_id),
    ).fetchone()
    return None if row is None else _row(row)


def list_conversations(
    conn: Connection[dict[str, Any]], tenant_id: str, after: int | None, limit: int
) -> tuple[list[ConversationRow], int | None]:
    """Newest first; the cursor is the start position of the last conversation returned."""
    rows = conn.execute(
        f"SELECT {COLUMNS}, started_position FROM {READ_SCHEMA}.conversations"
        " WHERE tenant_id = %s AND started_position < %s"
        " ORDER BY started_position DESC LIMIT %s",
        (tenant_id, before(after), limit + 1),
    ).fetchall()
    page, cursor = page_of(rows, limit, "started_position")
    return [_row(r) for r in page], cursor
