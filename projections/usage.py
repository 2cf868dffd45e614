"""Read model of agent-run usage: tokens, cost and runs per tenant, key and UTC day."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date
from typing import Any

from psycopg import Connection

from projections.audit import key_of
from projections.base import READ_SCHEMA, AddedColumn, NullableColumn, Plus, Statement
from projections.events import AgentRunCompleted, Event, names

TABLE = "usage"


class UsageProjection:
    """Sums of each completed run's usage, by the key that completed it."""

    name = "usage"
    tables: tuple[str, ...] = (TABLE,)
    added_columns: tuple[AddedColumn, ...] = ()
    nullable_columns: tuple[NullableColumn, ...] = ()
    event_types = names(AgentRunCompleted)

    def ddl(self) -> Iterable[str]:
        yield (
            "CREATE TABLE {schema}.usage ("
            " tenant_id text NOT NULL, day date NOT NULL, key_id text NOT NULL,"
            " runs bigint NOT NULL, input_tokens bigint NOT NULL, output_tokens bigint NOT NULL,"
            " cost_usd numeric NOT NULL, PRIMARY KEY (tenant_id, day, key_id))"
        )

    def apply(self, event: Event) -> Iterable[Statement]:
        match event:
            case AgentRunCompleted(usage=usage, metadata=metadata):
                yield Statement.insert_or_add(
                    TABLE,
                    ("tenant_id", "day", "key_id"),
                    tenant_id=metadata.tenant_id,
                    day=event.recorded_at.astimezone(UTC).date(),
                    key_id=key_of(metadata.actor or "") or "",
                    runs=Plus(1),
                    input_tokens=Plus(int(usage.get("input_tokens", 0))),
                    output_tokens=Plus(int(usage.get("output_tokens", 0))),
                    cost_usd=Plus(usage.get("cost_usd", 0)),
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
