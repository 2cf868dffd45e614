"""Read model of agent runs: each run's totals and its timeline of steps and tool calls."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import Connection

from domain.events import RecordedEvent
from projections.base import READ_SCHEMA, Statement

# The five agent events (and failed/cancelled) by which runs are known on the wire.
WIRE_TYPES = {
    "AgentRunStarted": "agent_started",
    "AgentThought": "agent_thinking",
    "ToolExecutionStarted": "tool_executing",
    "ToolExecutionCompleted": "tool_completed",
    "AgentRunCompleted": "agent_completed",
    "AgentRunFailed": "agent_failed",
    "AgentRunCancelled": "agent_cancelled",
}
FINAL_STATES = {
    "AgentRunCompleted": "completed",
    "AgentRunFailed": "failed",
    "AgentRunCancelled": "cancelled",
}


class RunsProjection:
    """One row per run and one per step."""

    name = "runs"
    tables: tuple[str, ...] = ("runs", "run_steps")
    event_types = frozenset(WIRE_TYPES)

    def ddl(self) -> Iterable[str]:
        yield (
            "CREATE TABLE {schema}.runs ("
            " id uuid PRIMARY KEY, tenant_id text NOT NULL, conversation_id uuid NOT NULL,"
            " agent text NOT NULL, model text NOT NULL, state text NOT NULL,"
            " input_message_id uuid, output_message_id uuid, error text,"
            " input_tokens bigint NOT NULL DEFAULT 0, output_tokens bigint NOT NULL DEFAULT 0,"
            " cost_usd numeric NOT NULL DEFAULT 0, started_at timestamptz NOT NULL,"
            " ended_at timestamptz, version integer NOT NULL, started_position bigint NOT NULL)"
        )
        yield "CREATE INDEX ON {schema}.runs (conversation_id, started_position)"
        yield (
            "CREATE TABLE {schema}.run_steps ("
            " position bigint PRIMARY KEY, run_id uuid NOT NULL, kind text NOT NULL,"
            " at timestamptz NOT NULL, call_id text, tool text, detail jsonb NOT NULL)"
        )
        yield "CREATE INDEX ON {schema}.run_steps (run_id, position)"

    def apply(self, event: RecordedEvent) -> Iterable[Statement]:
        data, at, run = event.data, event.recorded_at, event.aggregate_id
        if event.type == "AgentRunStarted":
            yield Statement(
                "INSERT INTO {schema}.runs (id, tenant_id, conversation_id, agent, model, state,"
                " input_message_id, started_at, version, started_position)"
                " VALUES (%s, %s, %s, %s, %s, 'running', %s, %s, %s, %s)",
                (
                    run,
                    data["tenant_id"],
                    data["conversation_id"],
                    data["agent"],
                    data["model"],
                    data.get("input_message_id"),
                    at,
                    event.version,
                    event.position,
                ),
            )
        elif event.type == "AgentRunCompleted":
            usage = data["usage"]
            yield Statement(
                "UPDATE {schema}.runs SET state = 'completed', output_message_id = %s,"
                " input_tokens = %s, output_tokens = %s, cost_usd = %s, ended_at = %s,"
                " version = %s WHERE id = %s",
                (
                    data["output_message_id"],
                    int(usage.get("input_tokens", 0)),
                    int(usage.get("output_tokens", 0)),
                    usage.get("cost_usd", 0),
                    at,
                    event.version,
                    run,
                ),
            )
        elif event.type in FINAL_STATES:
            yield Statement(
                "UPDATE {schema}.runs SET state = %s, error = %s, ended_at = %s, version = %s"
                " WHERE id = %s",
                (
                    FINAL_STATES[event.type],
                    data.get("error") or data.get("reason"),
                    at,
                    event.version,
                    run,
                ),
            )
        else:
            yield Statement(
                "UPDATE {schema}.runs SET version = %s WHERE id = %s", (event.version, run)
            )
        detail = {k: v for k, v in data.items() if k not in ("tenant_id",)}
        yield Statement(
            "INSERT INTO {schema}.run_steps (position, run_id, kind, at, call_id, tool, detail)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (
                event.position,
                run,
                WIRE_TYPES[event.type],
                at,
                data.get("call_id"),
                data.get("tool"),
                json.dumps(detail),
            ),
        )


RUN_COLUMNS = (
    "id, conversation_id, agent, model, state, input_message_id, output_message_id, error,"
    " input_tokens, output_tokens, cost_usd, started_at, ended_at, version"
)


def _run(row: dict[str, Any]) -> dict[str, Any]:
    ended: datetime | None = row["ended_at"]
    wall = (ended - row["started_at"]).total_seconds() * 1000 if ended else None
    return {
        "id": row["id"],
        "conversation_id": row["conversation_id"],
        "agent": row["agent"],
        "model": row["model"],
        "state": row["state"],
        "input_message_id": row["input_message_id"],
        "output_message_id": row["output_message_id"],
        "error": row["error"],
        "started_at": row["started_at"],
        "ended_at": ended,
        "version": row["version"],
        "totals": {
            "input_tokens": row["input_tokens"],
            "output_tokens": row["output_tokens"],
            "cost_usd": float(row["cost_usd"]),
            "wall_ms": wall,
        },
    }


def run_timeline(
    conn: Connection[dict[str, Any]], tenant_id: str, run_id: UUID
) -> dict[str, Any] | None:
    """The run, its steps in order (each lasting until the next), and its tool calls."""
    row = conn.execute(
        f"SELECT {RUN_COLUMNS} FROM {READ_SCHEMA}.runs WHERE id = %s AND tenant_id = %s",
        (run_id, tenant_id),
    ).fetchone()
    if row is None:
        return None
    rows = conn.execute(
        f"SELECT position, kind, at, call_id, tool, detail FROM {READ_SCHEMA}.run_steps"
        " WHERE run_id = %s ORDER BY position",
        (run_id,),
    ).fetchall()
    steps, calls = [], {}
    for i, step in enumerate(rows):
        following = rows[i + 1]["at"] if i + 1 < len(rows) else row["ended_at"]
        duration = (following - step["at"]).total_seconds() * 1000 if following else None
        steps.append(
            {
                "position": step["position"],
                "kind": step["kind"],
                "at": step["at"],
                "duration_ms": duration,
                "detail": step["detail"],
            }
        )
        if step["kind"] == "tool_executing":
            calls[step["call_id"]] = {
                "call_id": step["call_id"],
                "tool": step["tool"],
                "arguments": step["detail"].get("arguments"),
                "status": "running",
                "started_at": step["at"],
                "duration_ms": None,
                "error": None,
            }
        elif step["kind"] == "tool_completed" and step["call_id"] in calls:
            call = calls[step["call_id"]]
            error = step["detail"].get("error")
            call |= {
                "status": "failed" if error else "succeeded",
                "duration_ms": step["detail"].get("duration_ms"),
                "error": error,
                "result": step["detail"].get("result"),
            }
    return _run(row) | {"steps": steps, "tool_calls": list(calls.values())}


def conversation_runs(
    conn: Connection[dict[str, Any]],
    tenant_id: str,
    conversation_id: UUID,
    after: int | None,
    limit: int,
) -> tuple[list[dict[str, Any]], int | None]:
    rows = conn.execute(
        f"SELECT {RUN_COLUMNS}, started_position FROM {READ_SCHEMA}.runs"
        " WHERE tenant_id = %s AND conversation_id = %s AND started_position > %s"
        " ORDER BY started_position LIMIT %s",
        (tenant_id, conversation_id, after or 0, limit + 1),
    ).fetchall()
    page = rows[:limit]
    cursor = page[-1]["started_position"] if len(rows) > limit else None
    return [_run(r) for r in page], cursor
