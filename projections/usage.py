"""Read model of agent-run usage: tokens, cost and runs per tenant, key and UTC day."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date
from typing import Any

from psycopg import Connection

from domain.events import RecordedEvent
from projections.audit import key_of
from projections.base import READ_SCHEMA, Statement

T = "{schema}.usage"


class UsageProjection:
    """Sums of each completed run's usage, by the key that completed it."""

    name = "usage"
    tables: tuple[str, ...] = ("usage",)
    event_types = frozenset({"AgentRunCompleted"})

    def ddl(self) -> Iterable[str]:
        yield (
            f"CREATE TABLE {T} ("
            " tenant_id text NOT NULL, day date NOT NULL, key_id text NOT NULL,"
            " runs bigint NOT NULL, input_tokens bigint NOT NULL, output_tokens bigint NOT NULL,"
            " cost_usd numeric NOT NULL, PRIMARY KEY (tenant_id, day, key_id))"
        )

    def apply(self, event: RecordedEvent) -> Iterable[Statement]:
        usage = event.data.get("usage") or {}
        yield Statement(
            f"INSERT INTO {T} AS u VALUES (%s, %s, %s, 1, %s, %s, %s)"
            " ON CONFLICT (tenant_id, day, key_id) DO UPDATE SET runs = u.runs + 1,"
            " input_tokens = u.input_tokens + excluded.input_tokens,"
            " output_tokens = u.output_tokens + excluded.output_tokens,"
            " cost_usd = u.cost_usd + excluded.cost_usd",
            (
                event.tenant_id,
                event.recorded_at.astimezone(UTC).date(),
                key_of(str(event.metadata.get("actor", ""))) or "",
                int(usage.get("input_tokens", 0)),
                int(usage.get("output_tokens", 0)),
                usage.get("cost_usd", 0),
            ),
        )


def usage_of_day(conn: Connection[dict[str, Any]], tenant_id: str, day: date) -> dict[str, Any]:
    """A tenant's usage on one UTC day: totals, and the part of each key."""
    keys = conn.execute(
        f"SELECT key_id, runs, input_tokens, output_tokens, cost_usd::float8 AS cost_usd"
        f" FROM {READ_SCHEMA}.usage WHERE tenant_id = %s AND day = %s ORDER BY key_id",
        (tenant_id, day),
    ).fetchall()
    totals = {
        name: sum(k[name] for k in keys)
        for name in ("runs", "input_tokens", "output_tokens", "cost_usd")
    }
    totals["tokens"] = totals["input_tokens"] + totals["output_tokens"]
    return totals | {"keys": [k | {"key_id": k["key_id"] or None} for k in keys]}
