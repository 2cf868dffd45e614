"""Reading the event log: the one statement that reads events after a position (of one
tenant, of one type), in binary, and their decoding; pages of it over a pool.

Every follower of the log reads through `LogReader`; it never writes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar
from uuid import UUID

import psycopg
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composable, Composed, Identifier

from domain.events import RecordedEvent
from infrastructure.event_store import EVENTS_TABLE
from infrastructure.read_models import reader_pool

E = TypeVar("E")
# position, aggregate id, version, topic, stored state, tenant: as a row of the log reads
EventRow = tuple[int, UUID, int, str, bytes, str]
RowDecoder = Callable[[int, UUID, int, str, bytes, str], E]  # an event from a row's columns
AsyncConn = psycopg.AsyncConnection[dict[str, Any]]
COLUMNS = SQL("notification_id, originator_id, originator_version, topic, state, tenant_id")


class LogReader(Generic[E]):
    """Events after a position, in position order, optionally one tenant's (read by the
    index on tenant and position) or one type's.

    Read in binary as plain tuples (the cheapest rows: the stored JSON comes as it is, not
    as hex to decode on both ends), on the caller's connection and so in its transaction;
    decoded into ``E`` only when asked.
    """

    def __init__(self, decode: RowDecoder[E] | None = None) -> None:
        self._decode = decode
        events = Identifier(EVENTS_TABLE)
        self._after = {
            (tenant, kind): SQL(
                "SELECT {0} FROM {1} WHERE notification_id > %(after)s{2}{3}"
                " ORDER BY notification_id LIMIT %(limit)s"
            ).format(
                COLUMNS,
                events,
                SQL(" AND tenant_id = %(tenant)s" if tenant else ""),
                SQL(" AND type = %(type)s" if kind else ""),
            )
            for tenant in (False, True)
            for kind in (False, True)
        }
        self._at = SQL(
            "SELECT {0} FROM {1} WHERE notification_id = ANY(%(positions)s)"
            " ORDER BY notification_id"
        ).format(COLUMNS, events)
        self._head = SQL("SELECT coalesce(max(notification_id), 0) FROM {0}").format(events)

    def statement(self, *, tenant: bool = False, event_type: bool = False) -> Composed:
        """The SELECT of `read`: parameters ``after``, ``limit`` (and ``tenant``, ``type``)."""
        return self._after[tenant, event_type]

    def read(
        self,
        conn: psycopg.Connection[Any],
        after: int,
        limit: int,
        *,
        tenant: str | None = None,
        event_type: str | None = None,
    ) -> list[EventRow]:
        """Up to ``limit`` events after ``after`` (of ``tenant``, of ``event_type``)."""
        query, params = self._query(after, limit, tenant, event_type, None)
        with conn.cursor(row_factory=tuple_row) as cursor:
            return cursor.execute(query, params, binary=True).fetchall()

    async def read_async(
        self,
        conn: AsyncConn,
        after: int,
        limit: int,
        *,
        tenant: str | None = None,
        event_type: str | None = None,
        first: Composable | None = None,
    ) -> list[EventRow]:
        """`read` on an event loop; ``first``, a CTE over ``after`` (storing a checkpoint,
        say), goes in the same round trip."""
        query, params = self._query(after, limit, tenant, event_type, first)
        async with conn.cursor(row_factory=tuple_row) as cursor:
            await cursor.execute(query, params, binary=True)
            return await cursor.fetchall()

    def _query(
        self,
        after: int,
        limit: int,
        tenant: str | None,
        event_type: str | None,
        first: Composable | None,
    ) -> tuple[Composed, dict[str, Any]]:
        query = self.statement(tenant=tenant is not None, event_type=event_type is not None)
        params = {"after": after, "limit": limit, "tenant": tenant, "type": event_type}
        return (query if first is None else first + SQL(" ") + query), params

    def read_at(self, conn: psycopg.Connection[Any], positions: Sequence[int]) -> list[EventRow]:
        """The events at these positions, in order."""
        with conn.cursor(row_factory=tuple_row) as cursor:
            return cursor.execute(self._at, {"positions": list(positions)}, binary=True).fetchall()

    def head(self, conn: psycopg.Connection[Any]) -> int:
        """The position of the last event (0 for an empty log)."""
        with conn.cursor(row_factory=tuple_row) as cursor:
            row = cursor.execute(self._head).fetchone()
        return int(row[0]) if row else 0

    def event(self, row: EventRow) -> E:
        """The row's event (for a reader made with a decoder)."""
        assert self._decode is not None, "a reader without a decoder reads rows only"
        return self._decode(*row)

    def events(self, rows: Sequence[EventRow]) -> list[E]:
        """The rows' events, in order (for a reader made with a decoder)."""
        decode = self._decode
        assert decode is not None, "a reader without a decoder reads rows only"
        return [decode(*row) for row in rows]


class EventLog:
    """Pages of the log after a position, decoded, on pooled connections; the head."""

    def __init__(
        self,
        dsn: str,
        decode: RowDecoder[RecordedEvent],
        max_size: int = 4,
    ) -> None:
        self.reader = LogReader(decode)
        self.pool = reader_pool(dsn, max_size)

    def close(self) -> None:
        self.pool.close()

    def after(
        self, position: int, limit: int, tenant: str | None = None, event_type: str | None = None
    ) -> list[RecordedEvent]:
        """Up to ``limit`` events after ``position``; one tenant's and of one type, when
        given."""
        with self.pool.connection() as conn:
            rows = self.reader.read(conn, position, limit, tenant=tenant, event_type=event_type)
        return self.reader.events(rows)

    def head(self) -> int:
        with self.pool.connection() as conn:
            return self.reader.head(conn)
