"""Read model of alert rules and their alerts: a row per rule (deleted ones kept, marked)
and a row per alert with its lifecycle's times; and its queries (own tenant only, except
the evaluator's, which see every tenant's)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from psycopg import Connection

from projections.base import READ_SCHEMA, AddedColumn, NullableColumn, Statement
from projections.events import (
    AlertAcknowledged,
    AlertFired,
    AlertPending,
    AlertResolved,
    AlertRuleCreated,
    AlertRuleDeleted,
    AlertRuleMuted,
    AlertRuleUpdated,
    Event,
    names,
)
from projections.pages import before, page_of

RULES, ALERTS = "alert_rules", "alerts"
RULE_COLUMNS = (
    "rule_id, name, metric, op, threshold, window_s, for_s, severity, labels, muted_until,"
    " version, created_at, updated_at, position"
)
ALERT_COLUMNS = (
    "alert_id, rule_id, rule, metric, severity, state, value, since, fired_at,"
    " acknowledged_by, acknowledged_at, note, resolved_at, version, position"
)


class AlertsProjection:
    """Rules and alerts, by tenant."""

    name = "alerts"
    tables: tuple[str, ...] = (RULES, ALERTS)
    added_columns: tuple[AddedColumn, ...] = ()
    nullable_columns: tuple[NullableColumn, ...] = ()
    event_types = names(
        AlertRuleCreated,
        AlertRuleUpdated,
        AlertRuleMuted,
        AlertRuleDeleted,
        AlertPending,
        AlertFired,
        AlertAcknowledged,
        AlertResolved,
    )

    def ddl(self) -> Iterable[str]:
        yield (
            "CREATE TABLE {schema}.alert_rules ("
            " rule_id uuid PRIMARY KEY, tenant_id text NOT NULL, name text NOT NULL,"
            " metric text NOT NULL, op text NOT NULL, threshold float8 NOT NULL,"
            " window_s integer NOT NULL, for_s integer NOT NULL, severity text NOT NULL,"
            " labels jsonb NOT NULL, muted_until timestamptz, deleted boolean NOT NULL,"
            " version integer NOT NULL, created_at timestamptz NOT NULL,"
            " updated_at timestamptz NOT NULL, position bigint NOT NULL)"
        )
        yield "CREATE INDEX ON {schema}.alert_rules (tenant_id, position DESC)"
        yield (
            "CREATE TABLE {schema}.alerts ("
            " alert_id uuid PRIMARY KEY, rule_id uuid NOT NULL, tenant_id text NOT NULL,"
            " rule text NOT NULL, metric text NOT NULL, severity text NOT NULL,"
            " state text NOT NULL, value float8, since timestamptz NOT NULL,"
            " fired_at timestamptz, acknowledged_by text, acknowledged_at timestamptz,"
            " note text, resolved_at timestamptz, version integer NOT NULL,"
            " position bigint NOT NULL)"
        )
        yield "CREATE INDEX ON {schema}.alerts (tenant_id, position DESC)"
        yield "CREATE INDEX ON {schema}.alerts (state) WHERE state <> 'resolved'"

    def apply(self, event: Event) -> Iterable[Statement]:
        rule = {"rule_id": event.aggregate_id}
        alert = {"alert_id": event.aggregate_id}
        stamp = {"version": event.version, "position": event.position}
        match event:
            case AlertRuleCreated():
                yield Statement.insert(
                    RULES,
                    rule_id=event.aggregate_id,
                    tenant_id=event.tenant_id,
                    name=event.name,
                    metric=event.metric,
                    op=event.op,
                    threshold=event.threshold,
                    window_s=event.window_s,
                    for_s=event.for_s,
                    severity=event.severity,
                    labels=json.dumps(event.labels),
                    muted_until=None,
                    deleted=False,
                    created_at=event.recorded_at,
                    updated_at=event.recorded_at,
                    **stamp,
                )
            case AlertRuleUpdated():
                yield Statement.update(
                    RULES,
                    rule,
                    name=event.name,
                    metric=event.metric,
                    op=event.op,
                    threshold=event.threshold,
                    window_s=event.window_s,
                    for_s=event.for_s,
                    severity=event.severity,
                    labels=json.dumps(event.labels),
                    updated_at=event.recorded_at,
                    version=event.version,
                )
            case AlertRuleMuted(until=until):
                yield Statement.update(
                    RULES,
                    rule,
                    muted_until=datetime.fromisoformat(until),
                    updated_at=event.recorded_at,
                    version=event.version,
                )
            case AlertRuleDeleted():
                yield Statement.update(
                    RULES, rule, deleted=True, updated_at=event.recorded_at, version=event.version
                )
            case AlertPending():
                yield Statement.insert(
                    ALERTS,
                    alert_id=event.aggregate_id,
                    rule_id=event.rule_id,
                    tenant_id=event.tenant_id,
                    rule=event.rule,
                    metric=event.metric,
                    severity=event.severity,
                    state="pending",
                    value=event.value,
                    since=datetime.fromisoformat(event.since),
                    **stamp,
                )
            case AlertFired(value=value, at=at):
                yield Statement.update(
                    ALERTS,
                    alert,
                    state="firing",
                    value=value,
                    fired_at=datetime.fromisoformat(at),
                    version=event.version,
                )
            case AlertAcknowledged(by=by, note=note):
                yield Statement.update(
                    ALERTS,
                    alert,
                    state="acknowledged",
                    acknowledged_by=by,
                    acknowledged_at=event.recorded_at,
                    note=note,
                    version=event.version,
                )
            case AlertResolved(value=value, at=at):
                yield Statement.update(
                    ALERTS,
                    alert,
                    state="resolved",
                    value=value,
                    resolved_at=datetime.fromisoformat(at),
                    version=event.version,
                )


class RuleRow(msgspec.Struct):
    rule_id: UUID
    name: str
    metric: str
    op: str
    threshold: float
    window_s: int
    for_s: int
    severity: str
    labels: dict[str, str]
    muted_until: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime
    position: int


class AlertRow(msgspec.Struct):
    alert_id: UUID
    rule_id: UUID
    rule: str
    metric: str
    severity: str
    state: str
    value: float | None
    since: datetime
    fired_at: datetime | None
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    note: str | None
    resolved_at: datetime | None
    version: int
    position: int


def list_rules(
    conn: Connection[dict[str, Any]], tenant_id: str, after: int | None, limit: int
) -> tuple[list[RuleRow], int | None]:
    """The tenant's rules not deleted, newest first; the cursor of the next page."""
    rows = conn.execute(
        f"SELECT {RULE_COLUMNS} FROM {READ_SCHEMA}.{RULES}"
        " WHERE tenant_id = %s AND NOT deleted AND position < %s"
        " ORDER BY position DESC LIMIT %s",
        (tenant_id, before(after), limit + 1),
    ).fetchall()
    page, cursor = page_of(rows, limit, "position")
    return [RuleRow(**row) for row in page], cursor


def get_rule(conn: Connection[dict[str, Any]], tenant_id: str, rule_id: UUID) -> RuleRow | None:
    """One of the tenant's rules not deleted, or None."""
    row = conn.execute(
        f"SELECT {RULE_COLUMNS} FROM {READ_SCHEMA}.{RULES}"
        " WHERE tenant_id = %s AND rule_id = %s AND NOT deleted",
        (tenant_id, rule_id),
    ).fetchone()
    return None if row is None else RuleRow(**row)


def list_alerts(
    conn: Connection[dict[str, Any]],
    tenant_id: str,
    state: str | None,
    after: int | None,
    limit: int,
) -> tuple[list[AlertRow], int | None]:
    """The tenant's alerts (in one state, if given), newest first; the cursor of the next
    page."""
    rows = conn.execute(
        f"SELECT {ALERT_COLUMNS} FROM {READ_SCHEMA}.{ALERTS}"
        " WHERE tenant_id = %s AND (%s::text IS NULL OR state = %s) AND position < %s"
        " ORDER BY position DESC LIMIT %s",
        (tenant_id, state, state, before(after), limit + 1),
    ).fetchall()
    page, cursor = page_of(rows, limit, "position")
    return [AlertRow(**row) for row in page], cursor


def live_rule_ids(conn: Connection[dict[str, Any]]) -> list[UUID]:
    """Every tenant's rules not deleted, oldest first (for the evaluator)."""
    rows = conn.execute(
        f"SELECT rule_id FROM {READ_SCHEMA}.{RULES} WHERE NOT deleted ORDER BY position"
    ).fetchall()
    return [row["rule_id"] for row in rows]


def open_alerts(conn: Connection[dict[str, Any]]) -> list[tuple[str, UUID, UUID]]:
    """Every tenant's alerts not resolved: (tenant, rule id, alert id)."""
    rows = conn.execute(
        f"SELECT tenant_id, rule_id, alert_id FROM {READ_SCHEMA}.{ALERTS}"
        " WHERE state <> 'resolved' ORDER BY position"
    ).fetchall()
    return [(row["tenant_id"], row["rule_id"], row["alert_id"]) for row in rows]
