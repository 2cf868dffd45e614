"""A data subject's personal values read back for its export: its data keys from
``chronicle_subject_keys``, and the tenant's events whose sealed values name one of them,
opened. Writes nothing.

A sealed value names the ids of the keys it was sealed with in the stored JSON
(``"_sealed": {"keys": ["<32 hex digits>", …]}``), so the events bound to a subject are
found by those bytes, in the database, a bounded batch at a time; each one found is checked
on its parsed state (the bytes could stand in another field) before it is opened.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier
from psycopg_pool import ConnectionPool

from application.subject_exports import ExportedValue
from infrastructure.event_store import EVENTS_TABLE
from infrastructure.personal_fields import PRIVACY, SEALED, PersonalFields, sealed_fields
from infrastructure.stored_events import topic_parts

BATCH = 500
SELECT_KEY_IDS = (
    "SELECT key_id FROM chronicle_subject_keys WHERE tenant_id = %s AND subject = %s"
    " ORDER BY key_id"
)
# By the index on (tenant, position); the key ids are looked for as the JSON strings they are.
SELECT_SEALED_WITH = SQL(
    "SELECT notification_id, originator_id, originator_version, topic, state"
    " FROM {0} WHERE tenant_id = %(tenant)s AND notification_id > %(after)s"
    " AND EXISTS (SELECT FROM unnest(%(needles)s::bytea[]) AS n(needle)"
    " WHERE position(n.needle IN state) > 0)"
    " ORDER BY notification_id LIMIT %(limit)s"
).format(Identifier(EVENTS_TABLE))


class PostgresPersonalValues:
    """`application.subject_exports.PersonalValues` over the log and the keys table."""

    def __init__(
        self, pool: ConnectionPool[Any], personal: PersonalFields, batch: int = BATCH
    ) -> None:
        self._pool = pool
        self._personal = personal
        self._batch = batch

    def key_ids(self, tenant_id: str, subject: str) -> list[str]:
        with self._pool.connection() as conn, conn.cursor(row_factory=tuple_row) as cursor:
            rows = cursor.execute(SELECT_KEY_IDS, (tenant_id, subject)).fetchall()
        return [row[0].hex for row in rows]

    def sealed_with(self, tenant_id: str, key_ids: Sequence[str]) -> Iterator[ExportedValue]:
        wanted = frozenset(key_ids)
        needles = [f'"{key_id}"'.encode() for key_id in key_ids]
        after = 0
        while True:
            params = {"tenant": tenant_id, "after": after, "needles": needles}
            with self._pool.connection() as conn, conn.cursor(row_factory=tuple_row) as cursor:
                rows = cursor.execute(
                    SELECT_SEALED_WITH, params | {"limit": self._batch}, binary=True
                ).fetchall()
            for position, aggregate_id, version, topic, stored in rows:
                value = self._value(position, aggregate_id, version, topic, stored, wanted)
                if value is not None:
                    yield value
            if len(rows) < self._batch:
                return
            after = rows[-1][0]

    def _value(
        self,
        position: int,
        aggregate_id: UUID,
        version: int,
        topic: str,
        stored: bytes,
        wanted: frozenset[str],
    ) -> ExportedValue | None:
        state: dict[str, Any] = msgspec.json.decode(stored)
        sealed = state.get(SEALED)
        keys = sealed.get("keys") if type(sealed) is dict else None
        if type(keys) is not list or wanted.isdisjoint(k for k in keys if type(k) is str):
            return None
        opened: dict[str, Any] = {SEALED: sealed}
        self._personal.open_for_reader(opened, aggregate_id, version, position)
        unreadable = opened.pop(PRIVACY, {})
        fields = {name: opened.get(name) for name in sealed_fields(sealed)}
        recorded_at = _recorded_at(state["timestamp"])
        kind = topic_parts(topic)[0]
        return ExportedValue(position, kind, aggregate_id, version, recorded_at, fields, unreadable)


def _recorded_at(stored: Any) -> datetime:
    """An event's stored timestamp (tagged, as the library stores it)."""
    return datetime.fromisoformat(stored["_data_"] if type(stored) is dict else stored)
