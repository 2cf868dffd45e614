"""Read model of full-text search over messages: the message rows with a stored tsvector.

Its own projection, so that the history (``messages``) does not compute the tsvector and
each rebuilds at its own cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import Connection

from projections.base import READ_SCHEMA
from projections.messages import COLUMNS, MessageRow, MessageRowsProjection, message_row

TEXT_SEARCH_CONFIG = "english"


@dataclass(frozen=True)
class SearchHit:
    message: MessageRow
    rank: float
    snippet: str


class MessageSearchProjection(MessageRowsProjection):
    """One row per message, with a stored tsvector and its GIN index."""

    name = "message_search"
    tables: tuple[str, ...] = ("message_search",)
    extra_columns = (
        f", search tsvector GENERATED ALWAYS AS (to_tsvector('{TEXT_SEARCH_CONFIG}', content))"
        " STORED"
    )
    indexes: tuple[str, ...] = ("USING gin (search)",)


def search_messages(
    conn: Connection[dict[str, Any]], tenant_id: str, query: str, offset: int, limit: int
) -> tuple[list[SearchHit], int | None]:
    """Ranked matches of a web-style query in one tenant's messages; cursor is an offset."""
    rows = conn.execute(
        f"SELECT {COLUMNS}, rank, ts_headline(%(config)s, content, q,"
        " 'MaxFragments=2, MaxWords=20, MinWords=5') AS snippet"
        f" FROM (SELECT *, ts_rank(search, q) AS rank FROM {READ_SCHEMA}.message_search,"
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
    hits = [SearchHit(message_row(r), float(r["rank"]), r["snippet"]) for r in rows[:limit]]
    return hits, (offset + limit if len(rows) > limit else None)
