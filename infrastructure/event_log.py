"""Reading the event log in position order, optionally one tenant's (or one type's) events."""

from __future__ import annotations

from typing import Any

from psycopg.sql import SQL, Composed, Identifier

from domain.events import RecordedEvent
from infrastructure.event_store import EVENTS_TABLE
from infrastructure.read_models import Decoder, reader_pool

COLUMNS = SQL("notification_id, originator_id, originator_version, topic, state, tenant_id")


class EventLog:
    """Pages of the log after a position, decoded; the head position."""

    def __init__(self, dsn: str, decode: Decoder, max_size: int = 4) -> None:
        self.decode = decode
        self.pool = reader_pool(dsn, max_size)
        table = Identifier(EVENTS_TABLE)
        self._after: dict[tuple[bool, bool], Composed] = {
            (by_tenant, by_type): SQL(
                "SELECT {0} FROM {1} WHERE notification_id > %s{2}{3}"
                " ORDER BY notification_id LIMIT %s"
            ).format(
                COLUMNS,
                table,
                SQL(" AND tenant_id = %s" if by_tenant else ""),
                SQL(" AND type = %s" if by_type else ""),
            )
            for by_tenant in (False, True)
            for by_type in (False, True)
        }
        self._head = SQL("SELECT coalesce(max(notification_id), 0) AS head FROM {0}").format(table)

    def close(self) -> None:
        self.pool.close()

    def after(
        self, position: int, limit: int, tenant: str | None = None, event_type: str | None = None
    ) -> list[RecordedEvent]:
        """Up to ``limit`` events after ``position``; one tenant's (read by the index on
        tenant and position) and of one type, when given."""
        query = self.query(tenant=tenant is not None, event_type=event_type is not None)
        params: list[Any] = [position]
        params += [value for value in (tenant, event_type) if value is not None]
        with self.pool.connection() as conn:
            rows = conn.execute(query, [*params, limit]).fetchall()
        return [self.decode(row) for row in rows]

    def query(self, *, tenant: bool = False, event_type: bool = False) -> Composed:
        """The statement of `after`: position, then tenant and type if filtered, then limit."""
        return self._after[tenant, event_type]

    def head(self) -> int:
        with self.pool.connection() as conn:
            row = conn.execute(self._head).fetchone()
        return int(row["head"]) if row else 0
