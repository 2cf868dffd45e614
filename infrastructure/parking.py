"""Parked events: each projection's sequenced dead-letter queue, in ``chronicle_parked``.

An event a projection cannot apply is parked with every later event of its aggregate, for
that projection's generation, and the projection goes on with the rest. This module only
reads and writes the queue; the engine decides what to park (``infrastructure.projector``)
and operators retry or skip (``infrastructure.repairs``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from psycopg.sql import SQL, Identifier

from infrastructure.read_models import Conn

ERROR_MAX_CHARS = 2000


@dataclass(frozen=True, slots=True)
class ParkedEvent:
    """One event set aside; the cause only on the first of its aggregate (``None`` behind it)."""

    position: int
    aggregate_id: UUID
    tenant_id: str
    error_class: str | None = None
    error: str | None = None

    @classmethod
    def of(
        cls, position: int, aggregate_id: UUID, tenant_id: str, error: BaseException | None
    ) -> ParkedEvent:
        if error is None:
            return cls(position, aggregate_id, tenant_id)
        return cls(position, aggregate_id, tenant_id, *describe(error))


def describe(error: BaseException) -> tuple[str, str]:
    """An error's class name and message, as the queue keeps them."""
    return type(error).__name__, str(error)[:ERROR_MAX_CHARS]


def parked_among(conn: Conn, name: str, generation: int, aggregates: Iterable[UUID]) -> set[UUID]:
    """Which of these aggregates have events parked for the projection's generation."""
    rows = conn.execute(
        "SELECT DISTINCT aggregate_id FROM chronicle_parked"
        " WHERE name = %s AND generation = %s AND aggregate_id = ANY(%s)",
        (name, generation, list(aggregates)),
    ).fetchall()
    return {row["aggregate_id"] for row in rows}


def park(conn: Conn, name: str, generation: int, events: Sequence[ParkedEvent]) -> None:
    """Add events to the queue, in the caller's transaction."""
    if not events:
        return
    with conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO chronicle_parked (name, generation, position, aggregate_id, tenant_id,"
            " error_class, error) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [
                (name, generation, e.position, e.aggregate_id, e.tenant_id, e.error_class, e.error)
                for e in events
            ],
        )


@dataclass(frozen=True)
class ParkedRow:
    """A parked event as operators list it."""

    name: str
    position: int
    type: str
    tenant_id: str
    aggregate_id: UUID
    error_class: str | None
    error: str | None
    parked_at: datetime


def list_parked(conn: Conn, events_table: str, name: str | None = None) -> list[ParkedRow]:
    """The events parked in the live generation of each projection (or one), in order."""
    rows = conn.execute(
        SQL(
            "SELECT k.name, k.position, e.topic, k.tenant_id, k.aggregate_id, k.error_class,"
            " k.error, k.parked_at FROM chronicle_parked k JOIN chronicle_projections p"
            " ON p.name = k.name AND p.generation = k.generation"
            " LEFT JOIN {0} e ON e.notification_id = k.position"
            " WHERE %s::text IS NULL OR k.name = %s ORDER BY k.name, k.position"
        ).format(Identifier(events_table)),
        (name, name),
    ).fetchall()
    return [
        ParkedRow(
            name=row["name"],
            position=row["position"],
            type=(row["topic"] or "").rsplit(".", 1)[-1],
            tenant_id=row["tenant_id"],
            aggregate_id=row["aggregate_id"],
            error_class=row["error_class"],
            error=row["error"],
            parked_at=row["parked_at"],
        )
        for row in rows
    ]


def parked_count(conn: Conn, name: str, tenant_id: str | None = None) -> int:
    """How many events are parked in the live generation of a projection (of one tenant)."""
    row = conn.execute(
        "SELECT count(*) AS parked FROM chronicle_parked k JOIN chronicle_projections p"
        " ON p.name = k.name AND p.generation = k.generation"
        " WHERE k.name = %s AND (%s::text IS NULL OR k.tenant_id = %s)",
        (name, tenant_id, tenant_id),
    ).fetchone()
    return int(row["parked"]) if row else 0
