"""Read model of the metrics history: per-minute and per-hour sums of each tenant's
activity, built from the log alone (so a rebuild gives the same figures); and its queries.

Counters are buckets keyed by (tenant, name, label, start of the minute or hour the event
was recorded in). Metrics that need more than one event are kept as one row per fact and
summed (or their 95th percentile taken) when read: ``commands`` (one row per command id,
however many events it stored), tokens and cost (one per run: the model is on its start,
the usage on its completion), tool durations (one per call: the tool is on its start) and
queue latencies (one per task: ready at ``run_at``, out of the queue at its first start).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg import Connection

from domain.identity import Budget
from projections.base import READ_SCHEMA, AddedColumn, NullableColumn, Plus, Statement
from projections.events import (
    AgentRunCancelled,
    AgentRunCompleted,
    AgentRunFailed,
    AgentRunStarted,
    Event,
    MessagePosted,
    TaskDeadLettered,
    TaskFailed,
    TaskStarted,
    TaskSubmitted,
    TaskSucceeded,
    TaskTimedOut,
    ToolExecutionCompleted,
    ToolExecutionStarted,
    event_name,
)

MINUTES, HOURS, COMMANDS, RUNS = "metric_minutes", "metric_hours", "metric_commands", "metric_runs"
CALLS, TASKS = "metric_tool_calls", "metric_tasks"
BUCKET_KEY = ("tenant_id", "name", "at", "label")

# Every metric, with what it counts and what its label is ('' when it has none).
METRICS: dict[str, str] = {
    "commands": "accepted or refused commands (one per command id), by command name",
    "events": "events stored, by type",
    "messages": "messages posted",
    "runs_started": "agent runs started",
    "runs_completed": "agent runs completed",
    "runs_failed": "agent runs failed",
    "runs_cancelled": "agent runs cancelled",
    "tokens_input": "input tokens of completed runs, by model",
    "tokens_output": "output tokens of completed runs, by model",
    "cost_usd": "cost in USD of completed runs, by model",
    "tool_calls": "tool calls started, by tool",
    "tool_duration_ms_p95": "95th percentile of tool calls' duration_ms, by tool",
    "tasks_submitted": "tasks submitted, by task type",
    "tasks_succeeded": "tasks succeeded",
    "tasks_failed": "task attempts failed or timed out (retried or not)",
    "tasks_dead_lettered": "tasks dead-lettered",
    "task_queue_latency_ms_p95": "95th percentile of the wait from run_at to the first start"
    " of tasks, by task type",
    "budget_used_ratio": "share of the daily agent-run budget used in the UTC day until then"
    " (the larger of tokens' and cost's; null without a budget)",
}
BUDGET_USED = "budget_used_ratio"  # a share at a moment, not a sum: see `budget_used`
PERCENTILES = frozenset(name for name in METRICS if name.endswith("_p95"))
RUN_FIGURES = {"tokens_input": "input_tokens", "tokens_output": "output_tokens"}
RUN_FIGURES |= {"cost_usd": "cost_usd"}
COUNTED: dict[type[Event], str] = {
    MessagePosted: "messages",
    AgentRunStarted: "runs_started",
    AgentRunCompleted: "runs_completed",
    AgentRunFailed: "runs_failed",
    AgentRunCancelled: "runs_cancelled",
    TaskSucceeded: "tasks_succeeded",
    TaskFailed: "tasks_failed",
    TaskTimedOut: "tasks_failed",
    TaskDeadLettered: "tasks_dead_lettered",
}


def minute_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


class MetricsProjection:
    """Every event, counted into its tenant's minute and hour buckets."""

    name = "metrics"
    tables: tuple[str, ...] = (MINUTES, HOURS, COMMANDS, RUNS, CALLS, TASKS)
    added_columns: tuple[AddedColumn, ...] = ()
    nullable_columns: tuple[NullableColumn, ...] = ()
    event_types = None  # every event

    def ddl(self) -> Iterable[str]:
        for table in (MINUTES, HOURS):
            yield (
                f"CREATE TABLE {{schema}}.{table} ("
                " tenant_id text NOT NULL, name text NOT NULL, label text NOT NULL,"
                " at timestamptz NOT NULL, value numeric NOT NULL,"
                " PRIMARY KEY (tenant_id, name, at, label))"
            )
            yield f"CREATE INDEX ON {{schema}}.{table} (at)"
        yield (
            "CREATE TABLE {schema}.metric_commands ("
            " command_id text PRIMARY KEY, tenant_id text NOT NULL, label text NOT NULL,"
            " at timestamptz NOT NULL)"
        )
        yield "CREATE INDEX ON {schema}.metric_commands (tenant_id, at)"
        yield (
            "CREATE TABLE {schema}.metric_runs ("
            " run_id uuid PRIMARY KEY, tenant_id text NOT NULL, model text NOT NULL,"
            " at timestamptz, input_tokens bigint NOT NULL DEFAULT 0,"
            " output_tokens bigint NOT NULL DEFAULT 0, cost_usd numeric NOT NULL DEFAULT 0)"
        )
        yield "CREATE INDEX ON {schema}.metric_runs (tenant_id, at)"
        yield (
            "CREATE TABLE {schema}.metric_tool_calls ("
            " run_id uuid NOT NULL, call_id text NOT NULL, tenant_id text NOT NULL,"
            " tool text NOT NULL, at timestamptz, duration_ms bigint,"
            " PRIMARY KEY (run_id, call_id))"
        )
        yield "CREATE INDEX ON {schema}.metric_tool_calls (tenant_id, at)"
        yield (
            "CREATE TABLE {schema}.metric_tasks ("
            " task_id uuid PRIMARY KEY, tenant_id text NOT NULL, type text NOT NULL,"
            " run_at timestamptz NOT NULL, started_at timestamptz, at timestamptz)"
        )
        yield "CREATE INDEX ON {schema}.metric_tasks (tenant_id, at)"

    def apply(self, event: Event) -> Iterable[Statement]:
        tenant, minute = event.metadata.tenant_id, minute_of(event.recorded_at)
        yield from _counted(tenant, "events", event_name(event), minute)
        if (command_id := event.metadata.command_id) is not None:
            yield Statement.insert_or_add(
                COMMANDS,
                ("command_id",),
                command_id=command_id,
                tenant_id=tenant,
                label=event.metadata.command or event_name(event),
                at=minute,
            )
        if (name := COUNTED.get(type(event))) is not None:
            yield from _counted(tenant, name, "", minute)
        match event:
            case AgentRunStarted(model=model):
                yield Statement.insert(
                    RUNS, run_id=event.aggregate_id, tenant_id=tenant, model=model
                )
            case AgentRunCompleted(usage=usage):
                yield Statement.update(
                    RUNS,
                    {"run_id": event.aggregate_id},
                    at=minute,
                    input_tokens=int(usage.get("input_tokens", 0)),
                    output_tokens=int(usage.get("output_tokens", 0)),
                    cost_usd=usage.get("cost_usd", 0),
                )
            case ToolExecutionStarted(call_id=call_id, tool=tool):
                yield from _counted(tenant, "tool_calls", tool, minute)
                yield Statement.insert_or_add(
                    CALLS,
                    ("run_id", "call_id"),
                    run_id=event.aggregate_id,
                    call_id=call_id,
                    tenant_id=tenant,
                    tool=tool,
                )
            case ToolExecutionCompleted(call_id=call_id, duration_ms=duration_ms):
                yield Statement.update(
                    CALLS,
                    {"run_id": event.aggregate_id, "call_id": call_id},
                    at=minute,
                    duration_ms=duration_ms,
                )
            case TaskSubmitted(type=task_type, run_at=run_at):
                yield from _counted(tenant, "tasks_submitted", task_type, minute)
                task = event.aggregate_id
                yield Statement.insert(
                    TASKS, task_id=task, tenant_id=tenant, type=task_type, run_at=run_at
                )
            case TaskStarted():
                yield Statement.update(
                    TASKS,
                    {"task_id": event.aggregate_id, "started_at": None},
                    started_at=event.recorded_at,
                    at=minute,
                )


def _counted(tenant: str, name: str, label: str, minute: datetime) -> Iterator[Statement]:
    """One more in the minute's bucket and in the hour's."""
    for table, at in ((MINUTES, minute), (HOURS, minute.replace(minute=0))):
        yield Statement.insert_or_add(
            table, BUCKET_KEY, tenant_id=tenant, name=name, at=at, label=label, value=Plus(1)
        )


# Queries


def _facts(hours: bool, every_tenant: bool = False) -> str:
    """Every (name, label, at, value) of a tenant (or of all of them), at the resolution of
    the buckets read."""
    unit, buckets = ("hour", HOURS) if hours else ("minute", MINUTES)
    runs = " UNION ALL ".join(
        f"SELECT '{name}' AS name, model AS label, date_trunc('{unit}', at, 'UTC') AS at,"
        f" {column}::numeric AS value FROM {READ_SCHEMA}.{RUNS}"
        " WHERE tenant_id = %(tenant)s AND at IS NOT NULL"
        for name, column in RUN_FIGURES.items()
    )
    facts = (
        f"SELECT name, label, at, value FROM {READ_SCHEMA}.{buckets} WHERE tenant_id = %(tenant)s"
        f" UNION ALL SELECT 'commands', label, date_trunc('{unit}', at, 'UTC'), 1"
        f" FROM {READ_SCHEMA}.{COMMANDS} WHERE tenant_id = %(tenant)s"
        f" UNION ALL {runs}"
        f" UNION ALL SELECT 'tool_duration_ms_p95', tool, date_trunc('{unit}', at, 'UTC'),"
        f" duration_ms FROM {READ_SCHEMA}.{CALLS} WHERE tenant_id = %(tenant)s AND at IS NOT NULL"
        f" UNION ALL SELECT 'task_queue_latency_ms_p95', type, date_trunc('{unit}', at, 'UTC'),"
        " greatest(0, extract(epoch FROM started_at - run_at) * 1000)"
        f" FROM {READ_SCHEMA}.{TASKS} WHERE tenant_id = %(tenant)s AND at IS NOT NULL"
    )
    # A text of its own rather than a NULL parameter, so each keeps its index plan.
    return facts.replace("tenant_id = %(tenant)s", "TRUE") if every_tenant else facts


# A sum, or for a percentile metric the 95th percentile of its samples (NULL without any).
FIGURE = (
    "(CASE WHEN right(name, 4) = '_p95' THEN"
    " percentile_cont(0.95) WITHIN GROUP (ORDER BY value::float8) ELSE sum(value)::float8 END)"
)


ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)  # steps are counted from here (a Saturday, UTC)


def step_of(moment: datetime, step: timedelta) -> datetime:
    """The start of the step ``moment`` falls in."""
    return ORIGIN + ((moment - ORIGIN) // step) * step


def metric_series(
    conn: Connection[dict[str, Any]],
    tenant_id: str | None,
    names: list[str],
    label: str | None,
    start: datetime,
    end: datetime,
    step: timedelta,
) -> dict[str, list[tuple[datetime, float | None]]]:
    """Each metric's figure (its sum, or 95th percentile) over each ``step`` from the one
    ``start`` is in until ``end`` (all labels unless one is given), oldest first; a sum is
    0 where nothing happened, a percentile ``None``. Steps of an
    hour or more are read from the hour buckets, shorter ones from the minute buckets.
    A ``tenant_id`` of ``None`` is every tenant together."""
    first = step_of(start, step)
    if not names:
        return {}
    rows = conn.execute(
        f"SELECT name, date_bin(%(step)s, at, %(origin)s) AS at, {FIGURE} AS value"
        f" FROM ({_facts(step >= timedelta(hours=1), tenant_id is None)}) AS facts"
        " WHERE name = ANY(%(names)s) AND (%(label)s::text IS NULL OR label = %(label)s)"
        " AND at >= %(start)s AND at < %(end)s GROUP BY 1, 2",
        {
            "tenant": tenant_id,
            "names": names,
            "label": label,
            "start": first,
            "end": end,
            "step": step,
            "origin": ORIGIN,
        },
    ).fetchall()
    found = {(row["name"], row["at"]): row["value"] for row in rows}
    steps = steps_from(start, end, step)
    return {name: [(at, found.get((name, at), _none(name))) for at in steps] for name in names}


def steps_from(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    """The start of each ``step`` from the one ``start`` is in until ``end``."""
    first = step_of(start, step)
    return [first + i * step for i in range(max(0, -((first - end) // step)))]


def budget_used(
    conn: Connection[dict[str, Any]], tenant_id: str, budget: Budget, moments: list[datetime]
) -> list[float | None]:
    """The share of ``budget`` the tenant's completed runs had used at each moment, over
    its UTC day until then (by the minute runs completed in); ``None`` without a bound."""
    if not moments or budget == Budget():
        return [None] * len(moments)
    since = (min(moments) - timedelta(microseconds=1)).astimezone(UTC)
    rows = conn.execute(
        f"SELECT at, sum(input_tokens + output_tokens) AS tokens, sum(cost_usd)::float8 AS cost"
        f" FROM {READ_SCHEMA}.{RUNS} WHERE tenant_id = %s AND at >= %s AND at < %s"
        " GROUP BY at ORDER BY at",
        (tenant_id, since.replace(hour=0, minute=0, second=0, microsecond=0), max(moments)),
    ).fetchall()
    ats, tokens, costs = [row["at"] for row in rows], [0], [0.0]
    for row in rows:
        tokens.append(tokens[-1] + int(row["tokens"]))
        costs.append(costs[-1] + row["cost"])
    shares = []
    for moment in moments:
        day = (moment - timedelta(microseconds=1)).astimezone(UTC)
        first = bisect_left(ats, day.replace(hour=0, minute=0, second=0, microsecond=0))
        last = bisect_left(ats, moment)
        used = tokens[last] - tokens[first], costs[last] - costs[first]
        shares.append(budget.used_ratio(*used))
    return shares


def _none(name: str) -> float | None:
    """A figure where nothing happened: no sum is 0, no percentile is null."""
    return None if name in PERCENTILES else 0.0


def metric_totals(
    conn: Connection[dict[str, Any]],
    tenant_id: str | None,
    names: Iterable[str],
    start: datetime,
    end: datetime,
) -> dict[str, float | None]:
    """Each named metric's figure over the minutes in [start, end) (of every tenant with
    ``tenant_id`` ``None``)."""
    wanted = list(names)
    if not wanted:
        return {}
    rows = conn.execute(
        f"SELECT name, {FIGURE} AS value FROM ({_facts(False, tenant_id is None)}) AS facts"
        " WHERE name = ANY(%(names)s) AND at >= %(start)s AND at < %(end)s GROUP BY name",
        {"tenant": tenant_id, "names": wanted, "start": start, "end": end},
    ).fetchall()
    found = {row["name"]: row["value"] for row in rows}
    return {name: found.get(name, _none(name)) for name in wanted}


def forget_old_buckets(
    conn: Connection[Any], minutes_before: datetime, hours_before: datetime
) -> int:
    """Delete minute buckets older than ``minutes_before``, and hour buckets and the rows
    of facts (commands, runs, tool calls, tasks) older than ``hours_before``; how many rows
    went."""
    deleted = 0
    for table, before in (
        (MINUTES, minutes_before),
        (HOURS, hours_before),
        (COMMANDS, hours_before),
        (RUNS, hours_before),
        (CALLS, hours_before),
        (TASKS, hours_before),
    ):
        cursor = conn.execute(f"DELETE FROM {READ_SCHEMA}.{table} WHERE at < %s", (before,))
        deleted += cursor.rowcount
    return deleted
