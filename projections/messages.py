"""Read model of messages: each conversation's history in log order.

Its rows (one per ``MessagePosted``) are also those of full-text search
(``projections.message_search``), which adds a tsvector the history does not pay for.
A message's content and author are personal: an erasure of its conversation, or of its
author when they posted it as a user, leaves them NULL (as a rebuild then decodes them).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import Connection

from domain.conversation import PLAIN_TEXT
from domain.privacy import MESSAGE
from projections.base import READ_SCHEMA, AddedColumn, NullableColumn, Statement
from projections.erasure import erased, erased_container
from projections.events import Event, MessagePosted, SubjectErased, names

ERASABLE = MESSAGE.fields  # the personal fields of MessagePosted, each a column
CONTENT_TYPE_COLUMN = f"text NOT NULL DEFAULT '{PLAIN_TEXT}'"  # as MessagePosted v1 upcasts
COLUMNS_DDL = (
    "message_id uuid NOT NULL, conversation_id uuid NOT NULL,"
    " tenant_id text NOT NULL, role text NOT NULL, author text,"
    " content text, tokens integer, position bigint NOT NULL,"
    f" created_at timestamptz NOT NULL, content_type {CONTENT_TYPE_COLUMN}"
)


class MessageRowsProjection:
    """One row per posted message in the table named by ``tables``; subclasses add
    columns (``extra_columns``, e.g. generated ones) and secondary ``indexes`` (what
    follows ``CREATE INDEX ON <table>``)."""

    name: str
    tables: tuple[str, ...]
    event_types = names(MessagePosted, SubjectErased)
    extra_columns = ""
    indexes: tuple[str, ...] = ()

    @property
    def added_columns(self) -> tuple[AddedColumn, ...]:
        return (AddedColumn(self.tables[0], "content_type", CONTENT_TYPE_COLUMN),)

    @property
    def nullable_columns(self) -> tuple[NullableColumn, ...]:
        return tuple(NullableColumn(self.tables[0], name) for name in ERASABLE)

    def ddl(self) -> Iterable[str]:
        (table,) = self.tables
        yield f"CREATE TABLE {{schema}}.{table} ({COLUMNS_DDL}{self.extra_columns})"
        # Unique by an index, not a constraint, so a rebuild builds it after the bulk load.
        yield f"CREATE UNIQUE INDEX ON {{schema}}.{table} (message_id)"
        for index in self.indexes:
            yield f"CREATE INDEX ON {{schema}}.{table} {index}"

    def apply(self, event: Event) -> Iterable[Statement]:
        match event:
            case MessagePosted():
                yield Statement.insert(
                    self.tables[0],
                    message_id=event.message_id,
                    conversation_id=event.aggregate_id,
                    tenant_id=event.metadata.tenant_id,
                    role=event.role,
                    author=event.author,
                    content=event.content,
                    tokens=event.tokens,
                    position=event.position,
                    created_at=event.recorded_at,
                    content_type=event.content_type,
                )
            case SubjectErased():
                yield from self._redact(event)

    def _redact(self, event: SubjectErased) -> Iterable[Statement]:
        """The messages bound to the erased subject lose their personal values."""
        gone = dict.fromkeys(ERASABLE)
        where: dict[str, Any]
        if (user := erased(event, "user")) is not None:
            where = {"tenant_id": event.tenant_id, "role": "user", "author": user}
            yield Statement.update(self.tables[0], where, **gone)
        elif (conversation := erased_container(event, "conversation")) is not None:
            where = {"tenant_id": event.tenant_id, "conversation_id": conversation}
            yield Statement.update(self.tables[0], where, **gone)


class MessagesProjection(MessageRowsProjection):
    """One row per message, for each conversation's history."""

    name = "messages"
    tables: tuple[str, ...] = ("messages",)
    indexes: tuple[str, ...] = ("(conversation_id, position)",)


@dataclass(frozen=True)
class MessageRow:
    message_id: UUID
    conversation_id: UUID
    role: str
    author: str | None  # None: erased, as is the content
    content: str | None
    tokens: int | None
    position: int
    created_at: datetime
    content_type: str


COLUMNS = (
    "message_id, conversation_id, role, author, content, tokens, position, created_at, content_type"
)


def message_row(values: dict[str, Any]) -> MessageRow:
    return MessageRow(**{k: values[k] for k in MessageRow.__dataclass_fields__})


def message_history(
    conn: Connection[dict[str, Any]],
    tenant_id: str,
    conversation_id: UUID,
    after: int | None,
    limit: int,
) -> tuple[list[MessageRow], int | None]:
    """Oldest first, by position; the cursor is the last position returned."""
    rows = conn.execute(
        f"SELECT {COLUMNS} FROM {READ_SCHEMA}.messages"
        " WHERE tenant_id = %s AND conversation_id = %s AND position > %s"
        " ORDER BY position LIMIT %s",
        (tenant_id, conversation_id, after or 0, limit + 1),
    ).fetchall()
    page = [message_row(r) for r in rows[:limit]]
    return page, (page[-1].position if len(rows) > limit else None)


def latest_messages(
    conn: Connection[dict[str, Any]], tenant_id: str, conversation_id: UUID, limit: int
) -> list[MessageRow]:
    """The conversation's last ``limit`` messages, oldest first."""
    rows = conn.execute(
        f"SELECT {COLUMNS} FROM {READ_SCHEMA}.messages"
        " WHERE tenant_id = %s AND conversation_id = %s ORDER BY position DESC LIMIT %s",
        (tenant_id, conversation_id, limit),
    ).fetchall()
    return [message_row(r) for r in reversed(rows)]


def get_message(
    conn: Connection[dict[str, Any]], tenant_id: str, conversation_id: UUID, message_id: UUID
) -> MessageRow | None:
    """One message of the tenant's conversation, or None."""
    row = conn.execute(
        f"SELECT {COLUMNS} FROM {READ_SCHEMA}.messages"
        " WHERE message_id = %s AND tenant_id = %s AND conversation_id = %s",
        (message_id, tenant_id, conversation_id),
    ).fetchone()
    return None if row is None else message_row(row)
