"""HTTP resource for tasks: submit, claim (long-poll), heartbeat, complete, fail, cancel,
the task list and one task with its attempts, and the dashboard.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import anyio
import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import Response

from api.http.auth import requires
from api.http.commands import Changed, Created, answer
from api.http.fields import NO_NUL, JsonValue, Name, TaskType, checked_json
from api.http.reads import (
    READ_MODEL,
    After,
    IfNoneMatch,
    Limit,
    MinPosition,
    ReadModels,
    next_cursor_of,
    one,
    parse_cursor,
)
from application.context import CommandContext, Principal
from application.errors import NotFound
from application.tasks import Tasks
from domain.erasure import SUBJECT_PATTERN
from domain.task import ERROR_MAX_CHARS, NOTE_MAX_CHARS, TYPE_PATTERN, Task
from projections.tasks import get_task, list_tasks, task_dashboard

WRITE = [requires("commands:write")]
READ = [requires("read")]
CLAIM_POLL_SECONDS = 0.05
TaskState = Literal["pending", "running", "succeeded", "failed", "cancelled", "dead"]
Note = Annotated[str, msgspec.Meta(max_length=NOTE_MAX_CHARS, pattern=NO_NUL)]


class Submit(msgspec.Struct, forbid_unknown_fields=True):
    type: TaskType
    payload: JsonValue = None
    priority: Annotated[int, msgspec.Meta(ge=0, le=9)] = 0
    max_attempts: Annotated[int, msgspec.Meta(ge=1, le=20)] = 3
    timeout_s: Annotated[float, msgspec.Meta(ge=0.1, le=86400)] = 60.0
    run_at: Annotated[datetime, msgspec.Meta(tz=True)] | None = None
    backoff_s: Annotated[float, msgspec.Meta(ge=0, le=3600)] = 1.0
    # The data subject the payload is about: it is sealed for it, and erased with it.
    subject: Annotated[str, msgspec.Meta(pattern=SUBJECT_PATTERN)] | None = None

    def __post_init__(self) -> None:
        checked_json("payload", self.payload)


class ClaimRequest(msgspec.Struct, forbid_unknown_fields=True):
    worker_id: Name
    types: Annotated[list[TaskType], msgspec.Meta(min_length=1, max_length=50)]
    wait_s: Annotated[float, msgspec.Meta(ge=0, le=60)] = 0.0


class Heartbeat(msgspec.Struct, forbid_unknown_fields=True):
    progress: Annotated[float, msgspec.Meta(ge=0, le=100)] | None = None
    note: Note | None = None


class CompleteTask(msgspec.Struct, forbid_unknown_fields=True):
    result: JsonValue = None

    def __post_init__(self) -> None:
        checked_json("result", self.result)


class FailTask(msgspec.Struct, forbid_unknown_fields=True):
    error: Annotated[str, msgspec.Meta(min_length=1, max_length=ERROR_MAX_CHARS, pattern=NO_NUL)]
    retryable: bool = True


class CancelTask(msgspec.Struct, forbid_unknown_fields=True):
    reason: Note = ""


class ClaimedTask(msgspec.Struct):
    """What a worker needs, from the task itself (the read model may not have caught up)."""

    id: UUID
    type: str
    payload: Any
    priority: int
    max_attempts: int
    timeout_s: float

    @classmethod
    def of(cls, task: Task) -> ClaimedTask:
        return cls(
            task.id, task.type, task.payload, task.priority, task.max_attempts, task.timeout_s
        )


class Claimed(msgspec.Struct):
    task: ClaimedTask
    attempt: int
    lease_until: datetime
    version: int
    position: int
    traceparent: str | None = None  # the submitter's trace, for the worker to continue


class TasksController(Controller):
    path = "/v1/tasks"
    tags = ["tasks"]

    @post(
        "/",
        guards=WRITE,
        status_code=201,
        operation_id="submitTask",
        opt={"command": "task.submit"},
    )
    async def submit(
        self,
        context: NamedDependency[CommandContext],
        tasks: NamedDependency[Tasks],
        data: JSONBody[Submit],
    ) -> Response[Created]:
        """Submit a task; it may be claimed from ``run_at`` on (now by default)."""
        result = await tasks.submit(
            context,
            data.type,
            data.payload,
            data.priority,
            data.max_attempts,
            data.timeout_s,
            data.run_at,
            data.backoff_s,
            data.subject,
        )
        return answer(
            Created.of(result), result, status_code=201, location=f"/v1/tasks/{result.id}"
        )

    @post(
        "/claim",
        guards=WRITE,
        status_code=200,
        operation_id="claimTask",
        opt={"command": "task.claim", "no_content": "No claimable task turned up within wait_s"},
    )
    async def claim(
        self,
        context: NamedDependency[CommandContext],
        tasks: NamedDependency[Tasks],
        data: JSONBody[ClaimRequest],
    ) -> Response[Claimed]:
        """Start the best claimable task (higher priority, then older) for this worker;
        ``204`` when none turns up within ``wait_s``.
        """
        deadline = time.monotonic() + data.wait_s
        while (claim := await tasks.claim(context, data.worker_id, data.types)) is None:
            if time.monotonic() >= deadline:
                return Response(None, status_code=204)  # type: ignore[arg-type]
            await anyio.sleep(CLAIM_POLL_SECONDS)
        body = Claimed(
            ClaimedTask.of(claim.task),
            claim.attempt,
            claim.lease_until,
            claim.result.version,
            claim.result.position,
            claim.traceparent,
        )
        return answer(body, claim.result)

    @post(
        "/{task_id:uuid}/heartbeat",
        guards=WRITE,
        status_code=200,
        operation_id="heartbeatTask",
        opt={"command": "task.heartbeat"},
    )
    async def heartbeat(
        self,
        task_id: FromPath[UUID],
        context: NamedDependency[CommandContext],
        tasks: NamedDependency[Tasks],
        data: JSONBody[Heartbeat],
    ) -> Response[Changed]:
        """Extend the lease; a cancelled task answers 409 (type task-cancelled)."""
        result = await tasks.heartbeat(context, task_id, data.progress, data.note)
        return answer(Changed.of(result), result)

    @post(
        "/{task_id:uuid}/complete",
        guards=WRITE,
        status_code=200,
        operation_id="completeTask",
        opt={"command": "task.complete"},
    )
    async def complete(
        self,
        task_id: FromPath[UUID],
        context: NamedDependency[CommandContext],
        tasks: NamedDependency[Tasks],
        data: JSONBody[CompleteTask],
    ) -> Response[Changed]:
        """The running attempt succeeded."""
        result = await tasks.complete(context, task_id, data.result)
        return answer(Changed.of(result), result)

    @post(
        "/{task_id:uuid}/fail",
        guards=WRITE,
        status_code=200,
        operation_id="failTask",
        opt={"command": "task.fail"},
    )
    async def fail(
        self,
        task_id: FromPath[UUID],
        context: NamedDependency[CommandContext],
        tasks: NamedDependency[Tasks],
        data: JSONBody[FailTask],
    ) -> Response[Changed]:
        """The running attempt failed: retried after a backoff, or dead after the last."""
        result = await tasks.fail(context, task_id, data.error, data.retryable)
        return answer(Changed.of(result), result)

    @post(
        "/{task_id:uuid}/cancel",
        guards=WRITE,
        status_code=200,
        operation_id="cancelTask",
        opt={"command": "task.cancel"},
    )
    async def cancel(
        self,
        task_id: FromPath[UUID],
        context: NamedDependency[CommandContext],
        tasks: NamedDependency[Tasks],
        data: JSONBody[CancelTask],
    ) -> Response[Changed]:
        """Cancel a pending or running task (its worker learns it at its next heartbeat)."""
        result = await tasks.cancel(context, task_id, data.reason)
        return answer(Changed.of(result), result)

    @post(
        "/{task_id:uuid}/retry",
        guards=WRITE,
        status_code=200,
        operation_id="retryTask",
        opt={"command": "task.retry"},
    )
    async def retry(
        self,
        task_id: FromPath[UUID],
        context: NamedDependency[CommandContext],
        tasks: NamedDependency[Tasks],
    ) -> Response[Changed]:
        """Give a dead letter one more attempt, claimable now (`TaskRequeued`); `409` for a
        task that is not dead."""
        result = await tasks.retry(context, task_id)
        return answer(Changed.of(result), result)

    @get("/", guards=READ, operation_id="listTasks", opt=READ_MODEL)
    async def list(
        self,
        request: Request[Principal, Any, Any],
        read_models: NamedDependency[ReadModels],
        task_type: Annotated[
            str | None,
            QueryParameter(name="type", pattern=TYPE_PATTERN, description="Only this type"),
        ] = None,
        task_state: Annotated[
            TaskState | None, QueryParameter(name="state", description="Only tasks in this state")
        ] = None,
        after: After = None,
        limit: Limit = 50,
        min_position: MinPosition = None,
    ) -> Response[dict[str, Any]]:
        """The tenant's tasks, newest first, optionally of one state and type."""
        tenant, cursor = request.user.tenant_id, parse_cursor(after)
        (items, next_cursor), headers = await read_models.query(
            ("tasks",),
            lambda conn: list_tasks(conn, tenant, task_state, task_type, cursor, limit),
            min_position,
        )
        return Response({"items": items, "next": next_cursor_of(next_cursor)}, headers=headers)

    @get("/{task_id:uuid}", guards=READ, operation_id="getTask", opt=READ_MODEL)
    async def get_one(
        self,
        request: Request[Principal, Any, Any],
        task_id: FromPath[UUID],
        read_models: NamedDependency[ReadModels],
        min_position: MinPosition = None,
        if_none_match: IfNoneMatch = None,
    ) -> Response[dict[str, Any]]:
        """One task with every attempt (worker, times, outcome)."""
        tenant = request.user.tenant_id
        found, headers = await read_models.query(
            ("tasks",), lambda conn: get_task(conn, tenant, task_id), min_position
        )
        if found is None:
            raise NotFound(f"task {task_id} not found")
        return one(found, found["version"], headers, if_none_match)


class DashboardController(Controller):
    path = "/v1/dashboard"
    tags = ["tasks"]

    @get("/tasks", guards=READ, operation_id="getTaskDashboard", opt=READ_MODEL)
    async def tasks(
        self,
        request: Request[Principal, Any, Any],
        read_models: NamedDependency[ReadModels],
        min_position: MinPosition = None,
    ) -> Response[dict[str, Any]]:
        """Counts by state, queue depth by type, oldest pending age, run time p50/p95."""
        tenant = request.user.tenant_id
        figures, headers = await read_models.query(
            ("tasks",), lambda conn: task_dashboard(conn, tenant), min_position
        )
        return Response(figures, headers=headers)
