"""Read model of the audit trail: one entry per command, accepted or denied.

An accepted command is known by the metadata of the events it stored (one entry per
command id, however many events); a refused one by its `AccessDenied` event; a key's
refusals for being over its rate limit by the minute's `RateLimitExceeded`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import Connection

from domain.events import RecordedEvent
from projections.base import READ_SCHEMA, Statement

T = "{schema}.audit"
COLUMNS = (
    "position, at, actor, key_id, action, target, outcome, status, reason,"
    " request_id, trace_id, events"
)
INSERT = (
    f"INSERT INTO {T} (command_id, tenant_id, {COLUMNS})"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 1)"
    f" ON CONFLICT (command_id) DO UPDATE SET events = {T}.events + 1"
)


def key_of(actor: str) -> str | None:
    return actor.removeprefix("key:") if actor.startswith("key:") else None


def trace_of(traceparent: str | None) -> str | None:
    """The trace id of a W3C ``traceparent`` (``00-<trace id>-<span id>-<flags>``)."""
    parts = (traceparent or "").split("-")
    return parts[1] if len(parts) == 4 else None


class AuditProjection:
    """Every event, folded into one row per command."""

    name = "audit"
    tables: tuple[str, ...] = ("audit",)
    event_types = None  # every event

    def ddl(self) -> Iterable[str]:
        yield (
            f"CREATE TABLE {T} ("
            " command_id uuid PRIMARY KEY, tenant_id text NOT NULL, position bigint NOT NULL,"
            " at timestamptz NOT NULL, actor text NOT NULL, key_id text, action text NOT NULL,"
            " target text, outcome text NOT NULL, status smallint, reason text,"
            " request_id text, trace_id text, events integer NOT NULL)"
        )
        yield f"CREATE INDEX ON {T} (tenant_id, position)"
        yield f"CREATE INDEX ON {T} (tenant_id, actor, position)"
        yield f"CREATE INDEX ON {T} (tenant_id, action, position)"
        yield f"CREATE INDEX ON {T} (tenant_id, target, position)"
        yield f"CREATE INDEX ON {T} (tenant_id, at)"

    def apply(self, event: RecordedEvent) -> Iterable[Statement]:
        meta, data = event.metadata, event.data
        command_id = meta.get("command_id")
        if command_id is None:
            return
        actor = str(meta.get("actor", "unknown"))
        target: str | None = str(event.aggregate_id)
        outcome, status, reason = "accepted", None, None
        if event.type == "AccessDenied":
            outcome, status, reason = "denied", data["status"], data["reason"]
            target = data.get("target")
        elif event.type == "RateLimitExceeded":
            actor, outcome, status = f"key:{event.aggregate_id}", "denied", 429
            reason = (
                f"rate-limited: {data['refused']} refused in the minute from {data['window_start']}"
            )
        yield Statement(
            INSERT,
            (
                command_id,
                event.tenant_id,
                event.position,
                event.recorded_at,
                actor,
                key_of(actor),
                str(meta.get("command", event.type)),
                target,
                outcome,
                status,
                reason,
                meta.get("correlation_id"),
                trace_of(meta.get("traceparent")),
            ),
        )


@dataclass(frozen=True)
class AuditQuery:
    """Filters of the audit trail; each ``None`` matches anything."""

    tenant_id: str | None = None
    actor: str | None = None
    action: str | None = None
    target: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def audit_entries(
    conn: Connection[dict[str, Any]], query: AuditQuery, after: int | None, limit: int
) -> tuple[list[dict[str, Any]], int | None]:
    """Entries oldest first; the cursor is the position of the last entry returned."""
    rows = conn.execute(
        f"SELECT command_id, tenant_id, {COLUMNS} FROM {READ_SCHEMA}.audit"
        " WHERE (%(tenant)s::text IS NULL OR tenant_id = %(tenant)s)"
        " AND (%(actor)s::text IS NULL OR actor = %(actor)s)"
        " AND (%(action)s::text IS NULL OR action = %(action)s)"
        " AND (%(target)s::text IS NULL OR target = %(target)s)"
        " AND (%(since)s::timestamptz IS NULL OR at >= %(since)s)"
        " AND (%(until)s::timestamptz IS NULL OR at < %(until)s)"
        " AND position > %(after)s ORDER BY position LIMIT %(limit)s",
        {
            "tenant": query.tenant_id,
            "actor": query.actor,
            "action": query.action,
            "target": query.target,
            "since": query.since,
            "until": query.until,
            "after": after or 0,
            "limit": limit + 1,
        },
    ).fetchall()
    page = rows[:limit]
    return page, page[-1]["position"] if len(rows) > limit else None
