"""Read model of the audit trail: one entry per command, accepted or denied.

An accepted command is known by the metadata of the events it stored (one entry per
command id, however many events); a refused one by its `AccessDenied` event; a key's
refusals for being over its rate limit by the minute's `RateLimitExceeded`; an erasure's
entry names the subject erased and why.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import Connection

from projections.base import READ_SCHEMA, AddedColumn, NullableColumn, Plus, Statement
from projections.events import AccessDenied, Event, RateLimitExceeded, SubjectErased, event_name

TABLE = "audit"
COLUMNS = (
    "position, at, actor, key_id, action, target, outcome, status, reason,"
    " request_id, trace_id, events"
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
    tables: tuple[str, ...] = (TABLE,)
    added_columns: tuple[AddedColumn, ...] = ()
    nullable_columns: tuple[NullableColumn, ...] = ()
    event_types = None  # every event

    def ddl(self) -> Iterable[str]:
        yield (
            "CREATE TABLE {schema}.audit ("
            " command_id uuid PRIMARY KEY, tenant_id text NOT NULL, position bigint NOT NULL,"
            " at timestamptz NOT NULL, actor text NOT NULL, key_id text, action text NOT NULL,"
            " target text, outcome text NOT NULL, status smallint, reason text,"
            " request_id text, trace_id text, events integer NOT NULL)"
        )
        yield "CREATE INDEX ON {schema}.audit (tenant_id, position)"
        yield "CREATE INDEX ON {schema}.audit (tenant_id, actor, position)"
        yield "CREATE INDEX ON {schema}.audit (tenant_id, action, position)"
        yield "CREATE INDEX ON {schema}.audit (tenant_id, target, position)"
        yield "CREATE INDEX ON {schema}.audit (tenant_id, at)"

    def apply(self, event: Event) -> Iterable[Statement]:
        meta = event.metadata
        if meta.command_id is None:
            return
        actor = meta.actor or "unknown"
        target: str | None = str(event.aggregate_id)
        outcome = "accepted"
        status: int | None = None
        reason: str | None = None
        match event:
            case AccessDenied(status=status, reason=reason, target=target):
                outcome = "denied"
            case RateLimitExceeded(window_start=window_start, refused=refused):
                actor, outcome, status = f"key:{event.aggregate_id}", "denied", 429
                reason = f"rate-limited: {refused} refused in the minute from {window_start}"
        yield Statement.insert_or_add(
            TABLE,
            ("command_id",),
            command_id=meta.command_id,
            tenant_id=meta.tenant_id,
            position=event.position,
            at=event.recorded_at,
            actor=actor,
            key_id=key_of(actor),
            action=meta.command or event_name(event),
            target=target,
            outcome=outcome,
            status=status,
            reason=reason,
            request_id=meta.correlation_id,
            trace_id=trace_of(meta.traceparent),
            events=Plus(1),
        )
        if type(event) is SubjectErased:  # whom and why, whichever event made the row
            yield Statement.update(
                TABLE, {"command_id": meta.command_id}, target=event.subject, reason=event.reason
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
