"""Read model of tasks: the queue (what can be claimed, best first), each task with its
attempts, and the dashboard figures.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from uuid import UUID

from psycopg import Connection

from domain.events import RecordedEvent
from projections.base import READ_SCHEMA, Statement

T = "{schema}.tasks"
A = "{schema}.task_attempts"


class TasksProjection:
    """One row per task and one per attempt."""

    name = "tasks"
    tables: tuple[str, ...] = ("tasks", "task_attempts")
    event_types = frozenset(
        {
            "TaskSubmitted",
            "TaskStarted",
            "TaskProgressed",
            "TaskSucceeded",
            "TaskFailed",
            "TaskTimedOut",
            "TaskCancelled",
            "TaskDeadLettered",
        }
    )

    def ddl(self) -> Iterable[str]:
        yield (
            f"CREATE TABLE {T} ("
            " id uuid PRIMARY KEY, tenant_id text NOT NULL, type text NOT NULL,"
            " payload jsonb, priority smallint NOT NULL, max_attempts smallint NOT NULL,"
            " timeout_s double precision NOT NULL, state text NOT NULL,"
            " attempt smallint NOT NULL DEFAULT 0, worker_id text, run_at timestamptz NOT NULL,"
            " lease_until timestamptz, progress double precision, note text, result jsonb,"
            " last_error text, cancel_reason text, submitted_at timestamptz NOT NULL,"
            " updated_at timestamptz NOT NULL, finished_at timestamptz,"
            " version integer NOT NULL, submitted_position bigint NOT NULL)"
        )
        yield (f"CREATE INDEX ON {T} (tenant_id, state, type, priority DESC, submitted_position)")
        yield f"CREATE INDEX ON {T} (tenant_id, submitted_position DESC)"
        yield f"CREATE INDEX ON {T} (lease_until) WHERE state = 'running'"
        yield (
            f"CREATE TABLE {A} ("
            " task_id uuid NOT NULL, attempt smallint NOT NULL, tenant_id text NOT NULL,"
            " worker_id text NOT NULL, started_at timestamptz NOT NULL, ended_at timestamptz,"
            " outcome text, error text, PRIMARY KEY (task_id, attempt))"
        )
        yield f"CREATE INDEX ON {A} (tenant_id, ended_at)"

    def apply(self, event: RecordedEvent) -> Iterable[Statement]:
        d, at, task, v = event.data, event.recorded_at, event.aggregate_id, event.version
        kind = event.type
        if kind == "TaskSubmitted":
            yield Statement(
                f"INSERT INTO {T} (id, tenant_id, type, payload, priority, max_attempts,"
                " timeout_s, state, run_at, submitted_at, updated_at, version,"
                " submitted_position) VALUES (%s, %s, %s, %s, %s, %s, %s, 'pending',"
                " %s::timestamptz, %s, %s, %s, %s)",
                (
                    task,
                    d["tenant_id"],
                    d["type"],
                    json.dumps(d["payload"]),
                    d["priority"],
                    d["max_attempts"],
                    d["timeout_s"],
                    d["run_at"],
                    at,
                    at,
                    v,
                    event.position,
                ),
            )
        elif kind == "TaskStarted":
            yield Statement(
                f"UPDATE {T} SET state = 'running', attempt = %s, worker_id = %s,"
                " lease_until = %s::timestamptz, progress = NULL, note = NULL,"
                " updated_at = %s, version = %s WHERE id = %s",
                (d["attempt"], d["worker_id"], d["lease_until"], at, v, task),
            )
            yield Statement(
                f"INSERT INTO {A} (task_id, attempt, tenant_id, worker_id, started_at)"
                " VALUES (%s, %s, %s, %s, %s)",
                (task, d["attempt"], event.tenant_id, d["worker_id"], at),
            )
        elif kind == "TaskProgressed":
            yield Statement(
                f"UPDATE {T} SET progress = coalesce(%s, progress), note = coalesce(%s, note),"
                " lease_until = %s::timestamptz, updated_at = %s, version = %s WHERE id = %s",
                (d["percent"], d["note"], d["lease_until"], at, v, task),
            )
        elif kind == "TaskSucceeded":
            yield Statement(
                f"UPDATE {T} SET state = 'succeeded', result = %s, lease_until = NULL,"
                " finished_at = %s, updated_at = %s, version = %s WHERE id = %s",
                (json.dumps(d["result"]), at, at, v, task),
            )
            yield from self._end_attempt(task, None, at, "succeeded", None)
        elif kind in ("TaskFailed", "TaskTimedOut"):
            retry_at = d.get("retry_at")
            error = d.get("error") or "timed out"
            state = "pending" if retry_at or kind == "TaskTimedOut" else "failed"
            yield Statement(
                f"UPDATE {T} SET state = %s, run_at = coalesce(%s::timestamptz, run_at),"
                " worker_id = NULL, lease_until = NULL, last_error = %s,"
                " finished_at = CASE WHEN %s = 'failed' THEN %s ELSE NULL END,"
                " updated_at = %s, version = %s WHERE id = %s",
                (state, retry_at, error, state, at, at, v, task),
            )
            outcome = "failed" if kind == "TaskFailed" else "timed_out"
            yield from self._end_attempt(task, d["attempt"], at, outcome, error)
        elif kind == "TaskDeadLettered":
            yield Statement(
                f"UPDATE {T} SET state = 'dead', last_error = %s, finished_at = %s,"
                " updated_at = %s, version = %s WHERE id = %s",
                (d["last_error"], at, at, v, task),
            )
        elif kind == "TaskCancelled":
            yield Statement(
                f"UPDATE {T} SET state = 'cancelled', cancel_reason = %s, lease_until = NULL,"
                " finished_at = %s, updated_at = %s, version = %s WHERE id = %s",
                (d["reason"], at, at, v, task),
            )
            yield from self._end_attempt(task, None, at, "cancelled", d["reason"])

    @staticmethod
    def _end_attempt(
        task: UUID, attempt: int | None, at: Any, outcome: str, error: str | None
    ) -> Iterable[Statement]:
        """Close the given attempt (or the open one)."""
        yield Statement(
            f"UPDATE {A} SET ended_at = %s, outcome = %s, error = %s"
            " WHERE task_id = %s AND ended_at IS NULL AND (%s::smallint IS NULL OR attempt = %s)",
            (at, outcome, error, task, attempt, attempt),
        )


TASK_COLUMNS = (
    "id, type, payload, priority, max_attempts, timeout_s, state, attempt, worker_id, run_at,"
    " lease_until, progress, note, result, last_error, cancel_reason, submitted_at,"
    " updated_at, finished_at, version"
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
        (tenant_id, state, state, kind, kind, after or 2**62, limit + 1),
    ).fetchall()
    page = rows[:limit]
    cursor = page[-1]["submitted_position"] if len(rows) > limit else None
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
