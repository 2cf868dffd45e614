"""Read model of messages: each conversation's history in log order, and full-text search."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import Connection

from domain.events import RecordedEvent
from projections.base import READ_SCHEMA, Statement

TEXT_SEARCH_CONFIG = "english"
INSERTED = (
    "message_id",
    "conversation_id",
    "tenant_id",
    "role",
    "author",
    "content",
    "tokens",
    "position",
    "created_at",
)


class MessagesProjection:
    """One row per message, with a stored tsvector for search."""

    name = "messages"
    tables: tuple[str, ...] = ("messages",)
    event_types = frozenset({"MessagePosted"})

    def ddl(self) -> Iterable[str]:
        yield (
            "CREATE TABLE {schema}.messages ("
            " message_id uuid NOT NULL, conversation_id uuid NOT NULL,"
            " tenant_id text NOT NULL, role text NOT NULL, author text NOT NULL,"
            " content text NOT NULL, tokens integer, position bigint NOT NULL,"
            " created_at timestamptz NOT NULL,"
            f" search tsvector GENERATED ALWAYS AS (to_tsvector('{TEXT_SEARCH_CONFIG}', content))"
            " STORED)"
        )
        # Unique by an index, not a constraint, so a rebuild builds it after the bulk load.
        yield "CREATE UNIQUE INDEX ON {schema}.messages (message_id)"
        yield "CREATE INDEX ON {schema}.messages (conversation_id, position)"
        yield "CREATE INDEX ON {schema}.messages USING gin (search)"

    def apply(self, event: RecordedEvent) -> Iterable[Statement]:
        data = event.data
        yield Statement.insert(
            "messages",
            INSERTED,
            (
                data["message_id"],
                event.aggregate_id,
                event.tenant_id,
                data["role"],
                data["author"],
                data["content"],
                data.get("tokens"),
                event.position,
                event.recorded_at,
            ),
        )


@dataclass(frozen=True)
class MessageRow:
    message_id: UUID
    conversation_id: UUID
    role: str
    author: str
    content: str
    tokens: int | None
    position: int
    created_at: datetime


@dataclass(frozen=True)
class SearchHit:
    message: MessageRow
    rank: float
    snippet: str


COLUMNS = "message_id, conversation_id, role, author, content, tokens, position, created_at"


def _message(values: dict[str, Any]) -> MessageRow:
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
    page = [_message(r) for r in rows[:limit]]
    return page, (page[-1].position if len(rows) > limit else None)


def search_messages(
    conn: Connection[dict[str, Any]], tenant_id: str, query: str, offset: int, limit: int
) -> tuple[list[SearchHit], int | None]:
    """Ranked matches of a web-style query in one tenant's messages; cursor is an offset."""
    rows = conn.execute(
        f"SELECT {COLUMNS}, rank, ts_headline(%(config)s, content, q,"
        " 'MaxFragments=2, MaxWords=20, MinWords=5') AS snippet"
        f" FROM (SELECT *, ts_rank(search, q) AS rank FROM {READ_SCHEMA}.messages,"
        " websearch_to_tsquery(%(config)s, %(query)s) AS q"
        " WHERE tenant_id = %(tenant)s AND search @@ q"
        " ORDER BY rank DESC, position DESC OFFSET %(offset)s LIMIT %(limit)s) AS hits"
        " ORDER BY rank DESC, position DESC",
        {
            "config": TEXT_SEARCH_CONFIG,
            "query": query,
            "tenant": tenant_id,
            "offset": offset,
            "limit": limit + 1,
        },
    ).fetchall()
    hits = [SearchHit(_message(r), float(r["rank"]), r["snippet"]) for r in rows[:limit]]
    return hits, (offset + limit if len(rows) > limit else None)
