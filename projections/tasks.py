"""Read model of tasks: the queue (what can be claimed, best first), each task with its
attempts, and the dashboard figures.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import Connection

from projections.base import READ_SCHEMA, AddedColumn, NullableColumn, Statement
from projections.events import (
    Event,
    SubjectErased,
    TaskCancelled,
    TaskDeadLettered,
    TaskFailed,
    TaskProgressed,
    TaskRequeued,
    TaskStarted,
    TaskSubmitted,
    TaskSucceeded,
    TaskTimedOut,
    names,
)
from projections.pages import before, page_of

T, A = "tasks", "task_attempts"


class TasksProjection:
    """One row per task and one per attempt."""

    name = "tasks"
    tables: tuple[str, ...] = (T, A)
    # The data subject a task's payload is about, if its submitter named one.
    added_columns: tuple[AddedColumn, ...] = (AddedColumn(T, "subject", "text"),)
    nullable_columns: tuple[NullableColumn, ...] = ()
    event_types = names(
        SubjectErased,
        TaskSubmitted,
        TaskStarted,
        TaskProgressed,
        TaskSucceeded,
        TaskFailed,
        TaskTimedOut,
        TaskCancelled,
        TaskDeadLettered,
        TaskRequeued,
    )

    def ddl(self) -> Iterable[str]:
        yield (
            "CREATE TABLE {schema}.tasks ("
            " id uuid PRIMARY KEY, tenant_id text NOT NULL, type text NOT NULL,"
            " payload jsonb, priority smallint NOT NULL, max_attempts smallint NOT NULL,"
            " timeout_s double precision NOT NULL, state text NOT NULL,"
            " attempt smallint NOT NULL DEFAULT 0, worker_id text, run_at timestamptz NOT NULL,"
            " lease_until timestamptz, progress double precision, note text, result jsonb,"
            " last_error text, cancel_reason text, submitted_at timestamptz NOT NULL,"
            " updated_at timestamptz NOT NULL, finished_at timestamptz,"
            " version integer NOT NULL, submitted_position bigint NOT NULL, subject text)"
        )
        yield (
            "CREATE INDEX ON {schema}.tasks"
            " (tenant_id, state, type, priority DESC, submitted_position)"
        )
        yield "CREATE INDEX ON {schema}.tasks (tenant_id, submitted_position DESC)"
        yield "CREATE INDEX ON {schema}.tasks (lease_until) WHERE state = 'running'"
        yield (
            "CREATE TABLE {schema}.task_attempts ("
            " task_id uuid NOT NULL, attempt smallint NOT NULL, tenant_id text NOT NULL,"
            " worker_id text NOT NULL, started_at timestamptz NOT NULL, ended_at timestamptz,"
            " outcome text, error text, PRIMARY KEY (task_id, attempt))"
        )
        yield "CREATE INDEX ON {schema}.task_attempts (tenant_id, ended_at)"

    def apply(self, event: Event) -> Iterable[Statement]:
        at, version, task = event.recorded_at, event.version, event.aggregate_id
        this = {"id": task}
        match event:
            case TaskSubmitted():
                yield Statement.insert(
                    T,
                    id=task,
                    tenant_id=event.tenant_id,
                    type=event.type,
                    payload=json.dumps(event.payload),
                    subject=event.subject,
                    priority=event.priority,
                    max_attempts=event.max_attempts,
                    timeout_s=event.timeout_s,
                    state="pending",
                    attempt=0,
                    run_at=event.run_at,
                    submitted_at=at,
                    updated_at=at,
                    version=version,
                    submitted_position=event.position,
                )
            case SubjectErased(tenant_id=tenant_id, subject=subject):
                yield Statement.update(
                    T, {"tenant_id": tenant_id, "subject": subject}, payload=json.dumps(None)
                )
            case TaskStarted(attempt=attempt, worker_id=worker_id, lease_until=lease_until):
                yield Statement.update(
                    T,
                    this,
                    state="running",
                    attempt=attempt,
                    worker_id=worker_id,
                    lease_until=lease_until,
                    progress=None,
                    note=None,
                    updated_at=at,
                    version=version,
                )
                yield Statement.insert(
                    A,
                    task_id=task,
                    attempt=attempt,
                    tenant_id=event.metadata.tenant_id,
                    worker_id=worker_id,
                    started_at=at,
                )
            case TaskProgressed(percent=percent, note=note, lease_until=lease_until):
                sent = {"progress": percent, "note": note}  # a heartbeat without them keeps them
                given = {column: value for column, value in sent.items() if value is not None}
                yield Statement.update(
                    T, this, **given, lease_until=lease_until, updated_at=at, version=version
                )
            case TaskSucceeded(result=result):
                yield Statement.update(
                    T,
                    this,
                    state="succeeded",
                    result=json.dumps(result),
                    lease_until=None,
                    finished_at=at,
                    updated_at=at,
                    version=version,
                )
                yield self._attempt_ended(task, None, at, "succeeded", None)
            case TaskFailed(error=error, attempt=attempt, retry_at=retry_at):
                state = "pending" if retry_at is not None else "failed"
                yield self._given_back(event, state, retry_at, error)
                yield self._attempt_ended(task, attempt, at, "failed", error)
            case TaskTimedOut(attempt=attempt, retry_at=retry_at):
                yield self._given_back(event, "pending", retry_at, "timed out")
                yield self._attempt_ended(task, attempt, at, "timed_out", "timed out")
            case TaskDeadLettered(last_error=last_error):
                yield Statement.update(
                    T,
                    this,
                    state="dead",
                    last_error=last_error,
                    finished_at=at,
                    updated_at=at,
                    version=version,
                )
            case TaskCancelled(reason=reason):
                yield Statement.update(
                    T,
                    this,
                    state="cancelled",
                    cancel_reason=reason,
                    lease_until=None,
                    finished_at=at,
                    updated_at=at,
                    version=version,
                )
                yield self._attempt_ended(task, None, at, "cancelled", reason)
            case TaskRequeued(max_attempts=max_attempts, run_at=run_at):
                yield Statement.update(
                    T,
                    this,
                    state="pending",
                    max_attempts=max_attempts,
                    run_at=run_at,
                    finished_at=None,
                    updated_at=at,
                    version=version,
                )

    @staticmethod
    def _given_back(event: Event, state: str, retry_at: datetime | None, error: str) -> Statement:
        """The task after its attempt failed: waiting for its retry, or failed for good."""
        retry = {} if retry_at is None else {"run_at": retry_at}
        at = event.recorded_at
        return Statement.update(
            T,
            {"id": event.aggregate_id},
            **retry,
            state=state,
            worker_id=None,
            lease_until=None,
            last_error=error,
            finished_at=at if state == "failed" else None,
            updated_at=at,
            version=event.version,
        )

    @staticmethod
    def _attempt_ended(
        task: UUID, attempt: int | None, at: datetime, outcome: str, error: str | None
    ) -> Statement:
        """Close the given attempt (or the open one)."""
        still_open: dict[str, Any] = {"task_id": task, "ended_at": None}
        if attempt is not None:
            still_open["attempt"] = attempt
        return Statement.update(A, still_open, ended_at=at, outcome=outcome, error=error)


TASK_COLUMNS = (
    "id, type, payload, priority, max_attempts, timeout_s, state, attempt, worker_id, run_at,"
    " lease_until, progress, note, result, last_error, cancel_reason, submitted_at,"
    " updated_at, finished_at, version, subject"
)


def get_task(
    conn: Connection[dict[str, Any]], tenant_id: str, task_id: UUID
) -> dict[str, Any] | None:
    row = conn.execute(
        f"SELECT {TASK_COLUMNS} FROM {READ_SCHEMA}.tasks WHERE id = %s AND tenant_id = %s",
        (task_id, tenant_id),
    ).fetchone()
    if row is None:
        return None
    attempts = conn.execute(
        f"SELECT attempt, worker_id, started_at, ended_at, outcome, error"
        f" FROM {READ_SCHEMA}.task_attempts WHERE task_id = %s ORDER BY attempt",
        (task_id,),
    ).fetchall()
    return dict(row) | {"attempts": attempts}


def list_tasks(
    conn: Connection[dict[str, Any]],
    tenant_id: str,
    state: str | None,
    kind: str | None,
    after: int | None,
    limit: int,
) -> tuple[list[dict[str, Any]], int | None]:
    """Newest first; the cursor is the submit position of the last task returned."""
    rows = conn.execute(
        f"SELECT {TASK_COLUMNS}, submitted_position FROM {READ_SCHEMA}.tasks"
        " WHERE tenant_id = %s AND (%s::text IS NULL OR state = %s)"
        " AND (%s::text IS NULL OR type = %s) AND submitted_position < %s"
        " ORDER BY submitted_position DESC LIMIT %s",
        (tenant_id, state, state, kind, kind, before(after), limit + 1),
    ).fetchall()
    page, cursor = page_of(rows, limit, "submitted_position")
    return [{k: v for k, v in r.items() if k != "submitted_position"} for r in page], cursor


def task_dashboard(conn: Connection[dict[str, Any]], tenant_id: str) -> dict[str, Any]:
    """Counts by state, queue depth by type, oldest pending age, run time percentiles."""
    by_state = {
        r["state"]: r["count"]
        for r in conn.execute(
            f"SELECT state, count(*) FROM {READ_SCHEMA}.tasks WHERE tenant_id = %s GROUP BY state",
            (tenant_id,),
        )
    }
    depth = {
        r["type"]: r["count"]
        for r in conn.execute(
            f"SELECT type, count(*) FROM {READ_SCHEMA}.tasks WHERE tenant_id = %s"
            " AND state = 'pending' GROUP BY type",
            (tenant_id,),
        )
    }
    oldest = conn.execute(
        f"SELECT extract(epoch FROM now() - min(submitted_at)) AS age FROM {READ_SCHEMA}.tasks"
        " WHERE tenant_id = %s AND state = 'pending' AND run_at <= now()",
        (tenant_id,),
    ).fetchone()
    timing = conn.execute(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY s) AS p50,"
        " percentile_cont(0.95) WITHIN GROUP (ORDER BY s) AS p95, count(*) AS n FROM"
        " (SELECT extract(epoch FROM ended_at - started_at) * 1000 AS s"
        f" FROM {READ_SCHEMA}.task_attempts WHERE tenant_id = %s"
        " AND outcome = 'succeeded' AND ended_at > now() - interval '1 hour') AS runs",
        (tenant_id,),
    ).fetchone()
    assert oldest is not None
    assert timing is not None
    return {
        "counts": {
            s: by_state.get(s, 0)
            for s in ("pending", "running", "succeeded", "failed", "cancelled", "dead")
        },
        "queue_depth": depth,
        "oldest_pending_s": float(oldest["age"]) if oldest["age"] is not None else None,
        "run_time_last_hour_ms": {
            "p50": float(timing["p50"]) if timing["p50"] is not None else None,
            "p95": float(timing["p95"]) if timing["p95"] is not None else None,
            "count": timing["n"],
        },
    }
