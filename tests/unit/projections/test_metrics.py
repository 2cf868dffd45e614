"""The metrics history (each tenant's minute and hour buckets), applied in memory."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

from projections.events import (
    AgentRunCompleted,
    AgentRunFailed,
    AgentRunStarted,
    Event,
    MessagePosted,
    OtherEvent,
    TaskDeadLettered,
    TaskFailed,
    TaskStarted,
    TaskSubmitted,
    TaskTimedOut,
    ToolExecutionCompleted,
    ToolExecutionStarted,
)
from projections.metrics import MetricsProjection
from tests.unit.projections.memory import START, Log, Tables


def applied(*events: Event) -> Tables:
    return Tables().apply(MetricsProjection(), *events)


def buckets(tables: Tables, table: str = "metric_minutes", **where: Any) -> dict[Any, Any]:
    return {(r["name"], r["label"]): r["value"] for r in tables.where(table, **where)}


def message(log: Log, chat: UUID, **metadata: Any) -> MessagePosted:
    return log.event(
        MessagePosted,
        chat,
        log.metadata(**metadata) if metadata else None,
        message_id=uuid4(),
        author="ann",
        role="user",
        content="hi",
        tokens=None,
        content_type="text/plain",
    )


def started(log: Log, run: UUID, model: str) -> AgentRunStarted:
    return log.event(
        AgentRunStarted,
        run,
        tenant_id=log.tenant,
        conversation_id=uuid4(),
        agent="planner",
        model=model,
        input_message_id=None,
    )


def completed(log: Log, run: UUID, usage: dict[str, int | float]) -> AgentRunCompleted:
    return log.event(AgentRunCompleted, run, output_message_id=uuid4(), usage=usage)


def test_events_of_one_minute_add_up_in_its_bucket_by_type() -> None:
    log, chat = Log(), uuid4()
    tables = applied(message(log, chat), message(log, chat))
    minute = START.replace(second=0)
    assert buckets(tables, at=minute, tenant_id="acme") == {
        ("events", "MessagePosted"): 2,
        ("messages", ""): 2,
    }


def test_an_event_counts_in_the_minute_and_the_hour_it_was_recorded_in() -> None:
    log, chat = Log(), uuid4()
    first = message(log, chat)
    log.now += timedelta(minutes=5)
    second = message(log, chat)
    tables = applied(first, second)
    minutes = {r["at"]: r["value"] for r in tables.where("metric_minutes", name="messages")}
    assert minutes == {START: 1, START + timedelta(minutes=5): 1}
    (hour,) = tables.where("metric_hours", name="messages")
    assert (hour["at"], hour["value"]) == (START, 2)


def test_each_tenant_has_its_own_buckets() -> None:
    acme, other = Log("acme"), Log("other")
    tables = applied(message(acme, uuid4()), message(other, uuid4()), message(other, uuid4()))
    assert buckets(tables, tenant_id="acme")[("messages", "")] == 1
    assert buckets(tables, tenant_id="other")[("messages", "")] == 2


def test_a_command_counts_once_however_many_events_it_stored() -> None:
    log, chat = Log(), uuid4()
    one = log.metadata(command="runs.complete")
    tables = applied(
        log.event(AgentRunFailed, uuid4(), one, error="x"),
        message(log, chat, **{f: getattr(one, f) for f in one.__struct_fields__}),
        message(log, chat),
    )
    commands = tables.rows["metric_commands"]
    assert sorted(c["label"] for c in commands) == ["runs.complete", "test.command"]


def test_runs_count_by_outcome_and_their_usage_is_kept_under_the_model() -> None:
    log, run = Log(), uuid4()
    tables = applied(
        started(log, run, "m-1"),
        completed(log, run, {"input_tokens": 10, "output_tokens": 4, "cost_usd": 0.5}),
        log.event(AgentRunFailed, uuid4(), error="boom"),
    )
    assert buckets(tables)[("runs_started", "")] == 1
    assert buckets(tables)[("runs_completed", "")] == 1
    assert buckets(tables)[("runs_failed", "")] == 1
    row = tables.one("metric_runs", run_id=run)
    assert (row["model"], row["input_tokens"], row["output_tokens"]) == ("m-1", 10, 4)
    assert row["cost_usd"] == 0.5
    assert row["at"] == START.replace(second=0)


def test_tool_calls_count_by_tool_and_tasks_by_outcome() -> None:
    log, run, task = Log(), uuid4(), uuid4()
    tables = applied(
        log.event(ToolExecutionStarted, run, call_id="c1", tool="search", arguments={}),
        log.event(ToolExecutionStarted, run, call_id="c2", tool="search", arguments={}),
        log.event(
            TaskSubmitted,
            task,
            tenant_id="acme",
            type="email.send",
            payload=None,
            priority=0,
            max_attempts=2,
            timeout_s=1,
            run_at=START,
            backoff_s=1,
        ),
        log.event(TaskFailed, task, error="e", attempt=1, retry_at=START),
        log.event(TaskTimedOut, task, attempt=2, retry_at=None),
        log.event(TaskDeadLettered, task, last_error="e"),
    )
    counted = buckets(tables)
    assert counted[("tool_calls", "search")] == 2
    assert counted[("tasks_submitted", "email.send")] == 1
    assert counted[("tasks_failed", "")] == 2
    assert counted[("tasks_dead_lettered", "")] == 1


def test_an_event_no_metric_reads_still_counts_as_an_event_of_its_type() -> None:
    log = Log()
    other = log.event(OtherEvent, uuid4(), name="TenantCreated")
    assert buckets(applied(other)) == {("events", "TenantCreated"): 1}


def test_a_tool_call_keeps_its_tool_from_its_start_and_its_duration_from_its_end() -> None:
    log, run = Log(), uuid4()
    tables = applied(
        log.event(ToolExecutionStarted, run, call_id="c1", tool="search", arguments={}),
        log.event(ToolExecutionCompleted, run, call_id="c1", result=1, error=None, duration_ms=40),
    )
    call = tables.one("metric_tool_calls", run_id=run, call_id="c1")
    assert (call["tool"], call["duration_ms"], call["at"]) == ("search", 40, START)


def test_a_task_waits_in_the_queue_from_run_at_until_its_first_start_only() -> None:
    log, task = Log(), uuid4()
    tables = applied(
        log.event(
            TaskSubmitted,
            task,
            tenant_id="acme",
            type="email.send",
            payload=None,
            priority=0,
            max_attempts=2,
            timeout_s=1,
            run_at=START,
            backoff_s=1,
        ),
        first := log.event(TaskStarted, task, attempt=1, worker_id="w", lease_until=START),
        log.event(TaskStarted, task, attempt=2, worker_id="w", lease_until=START),
    )
    row = tables.one("metric_tasks", task_id=task)
    assert (row["type"], row["run_at"], row["started_at"]) == (
        "email.send",
        START,
        first.recorded_at,
    )
