"""The tasks read model (the queue, each task and its attempts), applied in memory."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

from projections.events import (
    Event,
    TaskCancelled,
    TaskDeadLettered,
    TaskFailed,
    TaskProgressed,
    TaskStarted,
    TaskSubmitted,
    TaskSucceeded,
    TaskTimedOut,
)
from projections.tasks import TasksProjection
from tests.unit.projections.memory import START, Log, Tables

TASK = uuid4()
LEASE = START + timedelta(minutes=5)


def submitted(log: Log, task: UUID = TASK, **fields: Any) -> TaskSubmitted:
    given: dict[str, Any] = {
        "tenant_id": "acme",
        "type": "resize",
        "payload": {"w": 100},
        "priority": 5,
        "max_attempts": 3,
        "timeout_s": 30,
        "run_at": START,
        "backoff_s": 1.5,
    }
    return log.event(TaskSubmitted, task, **(given | fields))


def started(log: Log, attempt: int = 1, worker_id: str = "w1") -> TaskStarted:
    return log.event(TaskStarted, TASK, attempt=attempt, worker_id=worker_id, lease_until=LEASE)


def applied(*events: Event) -> Tables:
    return Tables().apply(TasksProjection(), *events)


def test_a_submitted_task_is_pending_with_its_payload() -> None:
    log = Log()
    submit = submitted(log)
    row = applied(submit).one("tasks", id=TASK)
    assert (row["state"], row["type"], json.loads(row["payload"]), row["attempt"]) == (
        "pending",
        "resize",
        {"w": 100},
        0,
    )
    assert (row["priority"], row["max_attempts"], row["timeout_s"], row["run_at"]) == (
        5,
        3,
        30,
        START,
    )
    assert (row["submitted_position"], row["version"]) == (submit.position, 1)


def test_a_started_task_is_running_with_its_attempt_open() -> None:
    log = Log()
    start = started(log)
    tables = applied(submitted(log), start)
    row = tables.one("tasks", id=TASK)
    assert (row["state"], row["attempt"], row["worker_id"], row["lease_until"]) == (
        "running",
        1,
        "w1",
        LEASE,
    )
    attempt = tables.one("task_attempts", task_id=TASK, attempt=1)
    assert (attempt["worker_id"], attempt["started_at"], attempt["tenant_id"]) == (
        "w1",
        start.recorded_at,
        "acme",
    )
    assert attempt.get("ended_at") is None


def test_a_heartbeat_without_progress_or_note_keeps_the_last_ones() -> None:
    log = Log()
    later = LEASE + timedelta(minutes=1)
    tables = applied(
        submitted(log),
        started(log),
        log.event(TaskProgressed, TASK, percent=40, note="half", lease_until=LEASE),
        log.event(TaskProgressed, TASK, percent=None, note=None, lease_until=later),
    )
    row = tables.one("tasks", id=TASK)
    assert (row["progress"], row["note"], row["lease_until"], row["version"]) == (
        40,
        "half",
        later,
        4,
    )


def test_a_success_finishes_the_task_and_its_attempt() -> None:
    log = Log()
    done = log.event(TaskSucceeded, TASK, result={"ok": True})
    tables = applied(submitted(log), started(log), done)
    row = tables.one("tasks", id=TASK)
    assert (row["state"], json.loads(row["result"]), row["finished_at"]) == (
        "succeeded",
        {"ok": True},
        done.recorded_at,
    )
    assert row["lease_until"] is None
    attempt = tables.one("task_attempts", task_id=TASK, attempt=1)
    assert (attempt["outcome"], attempt["ended_at"], attempt["error"]) == (
        "succeeded",
        done.recorded_at,
        None,
    )


def test_a_failure_with_a_retry_waits_for_it_and_closes_the_attempt() -> None:
    log = Log()
    retry_at = START + timedelta(minutes=2)
    failed = log.event(TaskFailed, TASK, error="flaky", attempt=1, retry_at=retry_at)
    tables = applied(submitted(log), started(log), failed)
    row = tables.one("tasks", id=TASK)
    assert (row["state"], row["run_at"], row["last_error"], row["worker_id"]) == (
        "pending",
        retry_at,
        "flaky",
        None,
    )
    assert row["finished_at"] is None and row["lease_until"] is None
    attempt = tables.one("task_attempts", task_id=TASK, attempt=1)
    assert (attempt["outcome"], attempt["error"]) == ("failed", "flaky")


def test_a_failure_without_a_retry_fails_the_task_where_it_was_to_run() -> None:
    log = Log()
    failed = log.event(TaskFailed, TASK, error="bad input", attempt=1, retry_at=None)
    row = applied(submitted(log), started(log), failed).one("tasks", id=TASK)
    assert (row["state"], row["run_at"], row["finished_at"]) == (
        "failed",
        START,
        failed.recorded_at,
    )


def test_a_timeout_retries_and_the_next_attempt_is_its_own_row() -> None:
    log = Log()
    retry_at = START + timedelta(seconds=3)
    tables = applied(
        submitted(log),
        started(log),
        log.event(TaskTimedOut, TASK, attempt=1, retry_at=retry_at),
        started(log, attempt=2, worker_id="w2"),
    )
    first = tables.one("task_attempts", task_id=TASK, attempt=1)
    assert (first["outcome"], first["error"]) == ("timed_out", "timed out")
    second = tables.one("task_attempts", task_id=TASK, attempt=2)
    assert (second["worker_id"], second.get("ended_at")) == ("w2", None)
    row = tables.one("tasks", id=TASK)
    assert (row["state"], row["attempt"], row["last_error"]) == ("running", 2, "timed out")


def test_a_task_out_of_attempts_is_dead() -> None:
    log = Log()
    dead = log.event(TaskDeadLettered, TASK, last_error="flaky again")
    tables = applied(
        submitted(log),
        started(log),
        log.event(TaskFailed, TASK, error="flaky again", attempt=1, retry_at=None),
        dead,
    )
    row = tables.one("tasks", id=TASK)
    assert (row["state"], row["last_error"], row["finished_at"]) == (
        "dead",
        "flaky again",
        dead.recorded_at,
    )


def test_cancelling_a_running_task_closes_its_open_attempt_only() -> None:
    log = Log()
    cancelled = log.event(TaskCancelled, TASK, reason="user gave up")
    tables = applied(
        submitted(log),
        started(log),
        log.event(TaskTimedOut, TASK, attempt=1, retry_at=None),
        started(log, attempt=2),
        cancelled,
    )
    row = tables.one("tasks", id=TASK)
    assert (row["state"], row["cancel_reason"]) == ("cancelled", "user gave up")
    assert tables.one("task_attempts", task_id=TASK, attempt=1)["outcome"] == "timed_out"
    second = tables.one("task_attempts", task_id=TASK, attempt=2)
    assert (second["outcome"], second["error"]) == ("cancelled", "user gave up")
