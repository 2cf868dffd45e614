"""Reading the event log in position order, optionally one tenant's events only."""

from __future__ import annotations

from typing import Any

from psycopg.sql import SQL, Identifier

from domain.events import RecordedEvent
from infrastructure.event_store import EVENTS_TABLE
from infrastructure.read_models import Decoder, reader_pool

COLUMNS = "notification_id, originator_id, originator_version, topic, state"


class EventLog:
    """Pages of the log after a position, decoded; the head position."""

    def __init__(self, dsn: str, decode: Decoder, max_size: int = 4) -> None:
        self.decode = decode
        self.pool = reader_pool(dsn, max_size)
        table = Identifier(EVENTS_TABLE)
        self._after = SQL(
            "SELECT {0} FROM {1} WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
        ).format(SQL(COLUMNS), table)
        self._after_for_tenant = SQL(
            "SELECT {0} FROM {1} WHERE notification_id > %s"
            " AND convert_from(state, 'UTF8')::jsonb -> 'metadata' ->> 'tenant_id' = %s"
            " ORDER BY notification_id LIMIT %s"
        ).format(SQL(COLUMNS), table)
        self._head = SQL("SELECT coalesce(max(notification_id), 0) AS head FROM {0}").format(table)

    def close(self) -> None:
        self.pool.close()

    def after(self, position: int, limit: int, tenant: str | None = None) -> list[RecordedEvent]:
        with self.pool.connection() as conn:
            rows: list[dict[str, Any]]
            if tenant is None:
                rows = conn.execute(self._after, (position, limit)).fetchall()
            else:
                rows = conn.execute(self._after_for_tenant, (position, tenant, limit)).fetchall()
        return [self.decode(row) for row in rows]

    def head(self) -> int:
        with self.pool.connection() as conn:
            row = conn.execute(self._head).fetchone()
        return int(row["head"]) if row else 0
