"""The runs read model (each run's totals and its timeline of steps), applied in memory."""

from __future__ import annotations

import json
from uuid import UUID, uuid4

import msgspec

from projections.events import (
    AgentRunCancelled,
    AgentRunCompleted,
    AgentRunFailed,
    AgentRunStarted,
    AgentThought,
    Event,
    ToolExecutionCompleted,
    ToolExecutionStarted,
)
from projections.runs import RunsProjection
from tests.unit.projections.memory import Log, Tables, erasure, unreadable

CHAT = uuid4()


def started(log: Log, run: UUID) -> AgentRunStarted:
    return log.event(
        AgentRunStarted,
        run,
        tenant_id="acme",
        conversation_id=CHAT,
        agent="planner",
        model="m-1",
        input_message_id=None,
    )


def applied(*events: Event) -> Tables:
    return Tables().apply(RunsProjection(), *events)


def test_a_started_run_is_running_with_nothing_counted_yet() -> None:
    log, run = Log(), uuid4()
    start = started(log, run)
    row = applied(start).one("runs", id=run)
    assert (row["tenant_id"], row["conversation_id"], row["agent"], row["model"]) == (
        "acme",
        CHAT,
        "planner",
        "m-1",
    )
    assert (row["state"], row["input_tokens"], row["output_tokens"], row["cost_usd"]) == (
        "running",
        0,
        0,
        0,
    )
    assert (row["started_at"], row.get("ended_at")) == (start.recorded_at, None)


def test_each_event_is_a_step_under_its_wire_name_with_its_own_fields() -> None:
    log, run = Log(), uuid4()
    output = uuid4()
    tables = applied(
        started(log, run),
        log.event(AgentThought, run, text="search first"),
        log.event(ToolExecutionStarted, run, call_id="c1", tool="search", arguments={"q": "x"}),
        log.event(ToolExecutionCompleted, run, call_id="c1", result=[1], error=None, duration_ms=4),
        log.event(AgentRunCompleted, run, output_message_id=output, usage={"input_tokens": 10}),
    )
    steps = sorted(tables.rows["run_steps"], key=lambda step: step["position"])
    assert [(s["kind"], s["call_id"], s["tool"]) for s in steps] == [
        ("agent_started", None, None),
        ("agent_thinking", None, None),
        ("tool_executing", "c1", "search"),
        ("tool_completed", "c1", None),
        ("agent_completed", None, None),
    ]
    details = [json.loads(step["detail"]) for step in steps]
    assert details[0] == {
        "conversation_id": str(CHAT),
        "agent": "planner",
        "model": "m-1",
        "input_message_id": None,
        "document_id": None,
    }
    assert details[2] == {"call_id": "c1", "tool": "search", "arguments": {"q": "x"}}
    assert details[3] == {"call_id": "c1", "result": [1], "error": None, "duration_ms": 4}
    assert details[4] == {"output_message_id": str(output), "usage": {"input_tokens": 10}}
    assert tables.one("runs", id=run)["version"] == 5


def test_a_completed_run_has_its_answer_and_usage_totals() -> None:
    log, run = Log(), uuid4()
    output = uuid4()
    usage = {"input_tokens": 10, "output_tokens": 4, "cost_usd": 0.002}
    done = log.event(AgentRunCompleted, run, output_message_id=output, usage=usage)
    row = applied(started(log, run), done).one("runs", id=run)
    assert (row["state"], row["output_message_id"], row["ended_at"]) == (
        "completed",
        output,
        done.recorded_at,
    )
    assert (row["input_tokens"], row["output_tokens"], row["cost_usd"]) == (10, 4, 0.002)


def test_a_failed_or_cancelled_run_keeps_why() -> None:
    log, failing, cancelled = Log(), uuid4(), uuid4()
    tables = applied(
        started(log, failing),
        started(log, cancelled),
        log.event(AgentRunFailed, failing, error="model overloaded"),
        log.event(AgentRunCancelled, cancelled, reason="user left"),
    )
    assert (tables.one("runs", id=failing)["state"], tables.one("runs", id=failing)["error"]) == (
        "failed",
        "model overloaded",
    )
    row = tables.one("runs", id=cancelled)
    assert (row["state"], row["error"]) == ("cancelled", "user left")


def timeline(log: Log, run: UUID, chat: UUID = CHAT) -> list[Event]:
    start = started(log, run)
    start = msgspec.structs.replace(start, conversation_id=chat)
    return [
        start,
        log.event(AgentThought, run, text="ann's private plan"),
        log.event(ToolExecutionStarted, run, call_id="c1", tool="search", arguments={"q": "ann"}),
        log.event(
            ToolExecutionCompleted, run, call_id="c1", result=None, error="no", duration_ms=4
        ),
        log.event(AgentRunFailed, run, error="ann's data broke it"),
    ]


def details(tables: Tables, run: UUID) -> list[dict[str, object]]:
    return [json.loads(s["detail"]) for s in tables.where("run_steps", run_id=run)]


def test_erasing_a_conversation_redacts_the_personal_values_of_its_runs_steps() -> None:
    log, run, other = Log(), uuid4(), uuid4()
    events = [*timeline(log, run), *timeline(log, other, chat=uuid4())]
    tables = applied(*events, erasure(log, f"conversation:{CHAT}"))
    assert details(tables, run) == [
        {"conversation_id": str(CHAT), "agent": "planner", "model": "m-1"}
        | {"input_message_id": None, "document_id": None},
        {"text": None},
        {"call_id": "c1", "tool": "search", "arguments": None},
        {"call_id": "c1", "result": None, "error": None, "duration_ms": 4},
        {"error": None},
    ]
    assert tables.one("runs", id=run)["error"] is None
    assert details(tables, other)[1] == {"text": "ann's private plan"}
    assert tables.one("runs", id=other)["error"] == "ann's data broke it"


def test_erasing_a_conversation_keeps_a_cancelled_runs_reason() -> None:
    log, run = Log(), uuid4()
    cancelled = log.event(AgentRunCancelled, run, reason="user stopped it")
    tables = applied(started(log, run), cancelled, erasure(log, f"conversation:{CHAT}"))
    assert tables.one("runs", id=run)["error"] == "user stopped it"


def test_a_rebuild_after_erasing_a_conversation_makes_the_runs_rows_the_erasure_left() -> None:
    log, run = Log(), uuid4()
    events = timeline(log, run)
    tombstone = erasure(log, f"conversation:{CHAT}")
    live = applied(*events, tombstone)
    rebuilt = applied(events[0], *map(unreadable, events[1:]), tombstone)
    assert rebuilt.rows == live.rows


def test_an_erasure_of_a_user_or_another_tenants_conversation_leaves_runs_as_they_were() -> None:
    log, run = Log(), uuid4()
    events = timeline(log, run)
    before = applied(*events).rows
    for tombstone in (erasure(log, "user:ann"), erasure(log, f"conversation:{CHAT}", "other")):
        assert applied(*events, tombstone).rows == before
