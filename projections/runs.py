"""Read model of agent runs: each run's totals and its timeline of steps and tool calls.

A step's thought, tool arguments, result and error, and a failed run's error, are personal
(bound to the run's conversation): an erasure of the conversation leaves them null, in the
step's detail as a rebuild then decodes them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import cache
from typing import Any
from uuid import UUID

import msgspec
from psycopg import Connection

from domain.agent_run import AgentRun
from domain.privacy import PERSONAL_EVENTS
from projections.base import READ_SCHEMA, AddedColumn, Among, Merged, NullableColumn, Statement
from projections.erasure import erased_container
from projections.events import (
    ENVELOPE,
    AgentRunCancelled,
    AgentRunCompleted,
    AgentRunFailed,
    AgentRunStarted,
    AgentThought,
    Event,
    SubjectErased,
    ToolExecutionCompleted,
    ToolExecutionStarted,
    event_name,
    names,
)

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
RUNS, STEPS = "runs", "run_steps"
# Each kind of step's personal fields, all null in the detail of an erased one.
ERASED_DETAIL = {
    WIRE_TYPES[name]: dict.fromkeys(personal.fields)
    for name, personal in PERSONAL_EVENTS[AgentRun].items()
}


class RunsProjection:
    """One row per run and one per step."""

    name = "runs"
    tables: tuple[str, ...] = (RUNS, STEPS)
    added_columns: tuple[AddedColumn, ...] = (AddedColumn(RUNS, "document_id", "uuid"),)
    nullable_columns: tuple[NullableColumn, ...] = ()
    event_types = names(
        AgentRunStarted,
        AgentThought,
        ToolExecutionStarted,
        ToolExecutionCompleted,
        AgentRunCompleted,
        AgentRunFailed,
        AgentRunCancelled,
        SubjectErased,
    )

    def ddl(self) -> Iterable[str]:
        yield (
            "CREATE TABLE {schema}.runs ("
            " id uuid PRIMARY KEY, tenant_id text NOT NULL, conversation_id uuid NOT NULL,"
            " agent text NOT NULL, model text NOT NULL, state text NOT NULL,"
            " input_message_id uuid, output_message_id uuid, error text,"
            " input_tokens bigint NOT NULL DEFAULT 0, output_tokens bigint NOT NULL DEFAULT 0,"
            " cost_usd numeric NOT NULL DEFAULT 0, started_at timestamptz NOT NULL,"
            " ended_at timestamptz, version integer NOT NULL, started_position bigint NOT NULL,"
            " document_id uuid)"
        )
        yield "CREATE INDEX ON {schema}.runs (conversation_id, started_position)"
        yield (
            "CREATE TABLE {schema}.run_steps ("
            " position bigint PRIMARY KEY, run_id uuid NOT NULL, kind text NOT NULL,"
            " at timestamptz NOT NULL, call_id text, tool text, detail jsonb NOT NULL)"
        )
        yield "CREATE INDEX ON {schema}.run_steps (run_id, position)"

    def apply(self, event: Event) -> Iterable[Statement]:
        if isinstance(event, SubjectErased):
            yield from self._redact(event)
            return
        yield self._run(event)
        yield self._step(event)

    @staticmethod
    def _redact(event: SubjectErased) -> Iterable[Statement]:
        """The runs of an erased conversation lose their steps' personal values, and a
        failed one its error (a cancelled one's reason is not personal)."""
        conversation = erased_container(event, "conversation")
        if conversation is None:
            return
        runs = {"conversation_id": conversation, "tenant_id": event.tenant_id}
        yield Statement.update(RUNS, runs | {"state": "failed"}, error=None)
        of_runs = Among(RUNS, "id", runs)
        for kind, gone in ERASED_DETAIL.items():
            yield Statement.update(STEPS, {"kind": kind, "run_id": of_runs}, detail=Merged(gone))

    @staticmethod
    def _run(event: Event) -> Statement:
        at, version, this = event.recorded_at, event.version, {"id": event.aggregate_id}
        match event:
            case AgentRunStarted():
                return Statement.insert(
                    RUNS,
                    id=event.aggregate_id,
                    tenant_id=event.tenant_id,
                    conversation_id=event.conversation_id,
                    agent=event.agent,
                    model=event.model,
                    state="running",
                    input_message_id=event.input_message_id,
                    document_id=event.document_id,
                    input_tokens=0,
                    output_tokens=0,
                    cost_usd=0,
                    started_at=at,
                    version=version,
                    started_position=event.position,
                )
            case AgentRunCompleted(output_message_id=output_message_id, usage=usage):
                return Statement.update(
                    RUNS,
                    this,
                    state="completed",
                    output_message_id=output_message_id,
                    input_tokens=int(usage.get("input_tokens", 0)),
                    output_tokens=int(usage.get("output_tokens", 0)),
                    cost_usd=usage.get("cost_usd", 0),
                    ended_at=at,
                    version=version,
                )
            case AgentRunFailed(error=error):
                return Statement.update(
                    RUNS, this, state="failed", error=error, ended_at=at, version=version
                )
            case AgentRunCancelled(reason=reason):
                return Statement.update(
                    RUNS, this, state="cancelled", error=reason, ended_at=at, version=version
                )
            case _:
                return Statement.update(RUNS, this, version=version)

    @staticmethod
    def _step(event: Event) -> Statement:
        call_id: str | None = None
        tool: str | None = None
        match event:
            case ToolExecutionStarted(call_id=call_id, tool=tool):
                pass
            case ToolExecutionCompleted(call_id=call_id):
                pass
        return Statement.insert(
            STEPS,
            position=event.position,
            run_id=event.aggregate_id,
            kind=WIRE_TYPES[event_name(event)],
            at=event.recorded_at,
            call_id=call_id,
            tool=tool,
            detail=msgspec.json.encode(step_detail(event)).decode(),
        )


def step_detail(event: Event) -> dict[str, Any]:
    """A step's own fields, as its timeline shows them (the tenant is the run's)."""
    return {name: getattr(event, name) for name in _detail_fields(type(event))}


@cache
def _detail_fields(kind: type[Event]) -> tuple[str, ...]:
    return tuple(f for f in kind.__struct_fields__ if f not in ENVELOPE and f != "tenant_id")


RUN_COLUMNS = (
    "id, conversation_id, agent, model, state, input_message_id, output_message_id, error,"
    " input_tokens, output_tokens, cost_usd, started_at, ended_at, version, document_id"
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
        "document_id": row["document_id"],
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
