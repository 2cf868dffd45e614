"""HTTP resource for tasks: submit, claim (long-poll), heartbeat, complete, fail, cancel,
the task list and one task with its attempts, and the dashboard.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import anyio
import anyio.to_thread
import msgspec
from litestar import Controller, Request, get, post
from litestar.exceptions import ValidationException
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import Response

from api.bootstrap import Container
from api.http.auth import requires
from api.http.commands import command_context, in_thread, run_command, version_and_position
from api.http.reads import After, Limit, MinPosition, next_cursor_of, parse_cursor, read_model
from application.context import Principal
from application.errors import NotFound
from application.ports import CommandResult
from domain.task import Task
from projections.tasks import get_task, list_tasks, task_dashboard

TaskType = Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._-]+$")]
WRITE = [requires("commands:write")]
READ = [requires("read")]
CLAIM_POLL_SECONDS = 0.05
STATES = ("pending", "running", "succeeded", "failed", "cancelled", "dead")


class Submit(msgspec.Struct, forbid_unknown_fields=True):
    type: TaskType
    payload: Any = None
    priority: Annotated[int, msgspec.Meta(ge=0, le=9)] = 0
    max_attempts: Annotated[int, msgspec.Meta(ge=1, le=20)] = 3
    timeout_s: Annotated[float, msgspec.Meta(ge=0.1, le=86400)] = 60.0
    run_at: datetime | None = None
    backoff_s: Annotated[float, msgspec.Meta(ge=0, le=3600)] = 1.0


class ClaimRequest(msgspec.Struct, forbid_unknown_fields=True):
    worker_id: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    types: Annotated[list[TaskType], msgspec.Meta(min_length=1, max_length=50)]
    wait_s: Annotated[float, msgspec.Meta(ge=0, le=60)] = 0.0


class Heartbeat(msgspec.Struct, forbid_unknown_fields=True):
    progress: Annotated[float, msgspec.Meta(ge=0, le=100)] | None = None
    note: Annotated[str, msgspec.Meta(max_length=2000)] | None = None


class CompleteTask(msgspec.Struct, forbid_unknown_fields=True):
    result: Any = None


class FailTask(msgspec.Struct, forbid_unknown_fields=True):
    error: Annotated[str, msgspec.Meta(min_length=1, max_length=65536)]
    retryable: bool = True


class CancelTask(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(max_length=2000)] = ""


def _submitted(result: CommandResult) -> dict[str, Any]:
    return {"id": str(result.id), **version_and_position(result)}


class TasksController(Controller):
    path = "/v1/tasks"
    tags = ["tasks"]

    @post("/", guards=WRITE, status_code=201, opt={"command": "task.submit"})
    async def submit(
        self, request: Request[Principal, Any, Any], data: JSONBody[Submit]
    ) -> Response[dict[str, Any]]:
        """Submit a task; it may be claimed from ``run_at`` on (now by default)."""
        c: Container = request.app.state.container
        return await run_command(
            request,
            in_thread(
                lambda ctx: c.tasks.submit(
                    ctx,
                    data.type,
                    data.payload,
                    data.priority,
                    data.max_attempts,
                    data.timeout_s,
                    data.run_at,
                    data.backoff_s,
                )
            ),
            _submitted,
            201,
        )

    @post("/claim", guards=WRITE, status_code=200, opt={"command": "task.claim"})
    async def claim(
        self, request: Request[Principal, Any, Any], data: JSONBody[ClaimRequest]
    ) -> Response[Any]:
        """Start the best claimable task (higher priority, then older) for this worker;
        ``204`` when none turns up within ``wait_s``.
        """
        c: Container = request.app.state.container
        context = await command_context(request)
        deadline = time.monotonic() + data.wait_s
        while True:
            claim = await anyio.to_thread.run_sync(
                c.tasks.claim, context, data.worker_id, data.types
            )
            if claim is not None:
                break
            if time.monotonic() >= deadline:
                return Response(None, status_code=204)
            await anyio.sleep(CLAIM_POLL_SECONDS)
        body = {
            "task": _claimed_task(claim.task),
            "attempt": claim.attempt,
            "lease_until": claim.lease_until,
            "version": claim.result.version,
            "position": claim.result.position,
        }
        headers = {"Idempotent-Replayed": "true"} if claim.result.replayed else {}
        return Response(body, headers=headers)

    @post(
        "/{task_id:uuid}/heartbeat",
        guards=WRITE,
        status_code=200,
        opt={"command": "task.heartbeat"},
    )
    async def heartbeat(
        self,
        request: Request[Principal, Any, Any],
        task_id: FromPath[UUID],
        data: JSONBody[Heartbeat],
    ) -> Response[dict[str, Any]]:
        """Extend the lease; a cancelled task answers 409 (type task-cancelled)."""
        c: Container = request.app.state.container
        return await run_command(
            request,
            in_thread(lambda ctx: c.tasks.heartbeat(ctx, task_id, data.progress, data.note)),
            version_and_position,
        )

    @post(
        "/{task_id:uuid}/complete", guards=WRITE, status_code=200, opt={"command": "task.complete"}
    )
    async def complete(
        self,
        request: Request[Principal, Any, Any],
        task_id: FromPath[UUID],
        data: JSONBody[CompleteTask],
    ) -> Response[dict[str, Any]]:
        """The running attempt succeeded."""
        c: Container = request.app.state.container
        return await run_command(
            request,
            in_thread(lambda ctx: c.tasks.complete(ctx, task_id, data.result)),
            version_and_position,
        )

    @post("/{task_id:uuid}/fail", guards=WRITE, status_code=200, opt={"command": "task.fail"})
    async def fail(
        self,
        request: Request[Principal, Any, Any],
        task_id: FromPath[UUID],
        data: JSONBody[FailTask],
    ) -> Response[dict[str, Any]]:
        """The running attempt failed: retried after a backoff, or dead after the last."""
        c: Container = request.app.state.container
        return await run_command(
            request,
            in_thread(lambda ctx: c.tasks.fail(ctx, task_id, data.error, data.retryable)),
            version_and_position,
        )

    @post("/{task_id:uuid}/cancel", guards=WRITE, status_code=200, opt={"command": "task.cancel"})
    async def cancel(
        self,
        request: Request[Principal, Any, Any],
        task_id: FromPath[UUID],
        data: JSONBody[CancelTask],
    ) -> Response[dict[str, Any]]:
        """Cancel a pending or running task (its worker learns it at its next heartbeat)."""
        c: Container = request.app.state.container
        return await run_command(
            request,
            in_thread(lambda ctx: c.tasks.cancel(ctx, task_id, data.reason)),
            version_and_position,
        )

    @get("/", guards=READ)
    async def list(
        self,
        request: Request[Principal, Any, Any],
        type: Annotated[str | None, QueryParameter(max_length=100)] = None,
        after: After = None,
        limit: Limit = 50,
        min_position: MinPosition = None,
    ) -> Response[dict[str, Any]]:
        """The tenant's tasks, newest first; ``?state=`` filters by state."""
        tenant, cursor = request.user.tenant_id, parse_cursor(after)
        task_state = _state(request.query_params.get("state"))
        (items, next_cursor), headers = await read_model(
            request,
            ("tasks",),
            lambda conn: list_tasks(conn, tenant, task_state, type, cursor, limit),
            min_position,
        )
        return Response(
            {"items": items, "next": next_cursor_of(next_cursor)},
            headers=headers,
        )

    @get("/{task_id:uuid}", guards=READ)
    async def get_one(
        self,
        request: Request[Principal, Any, Any],
        task_id: FromPath[UUID],
        min_position: MinPosition = None,
    ) -> Response[dict[str, Any]]:
        """One task with every attempt (worker, times, outcome)."""
        tenant = request.user.tenant_id
        found, headers = await read_model(
            request, ("tasks",), lambda conn: get_task(conn, tenant, task_id), min_position
        )
        if found is None:
            raise NotFound(f"task {task_id} not found")
        return Response(found, headers=headers | {"ETag": f'"{found["version"]}"'})


def _state(raw: str | None) -> str | None:
    # `state` is a reserved parameter name in Litestar, so it is read here.
    if raw is None or raw in STATES:
        return raw
    raise ValidationException(
        detail="invalid state",
        extra=[
            {"key": "state", "message": f"must be one of {', '.join(STATES)}", "source": "query"}
        ],
    )


def _claimed_task(task: Task) -> dict[str, Any]:
    """What a worker needs, from the task itself (the read model may not have caught up)."""
    return {
        "id": task.id,
        "type": task.type,
        "payload": task.payload,
        "priority": task.priority,
        "max_attempts": task.max_attempts,
        "timeout_s": task.timeout_s,
    }


class DashboardController(Controller):
    path = "/v1/dashboard"
    tags = ["tasks"]

    @get("/tasks", guards=READ)
    async def tasks(
        self, request: Request[Principal, Any, Any], min_position: MinPosition = None
    ) -> Response[dict[str, Any]]:
        """Counts by state, queue depth by type, oldest pending age, run time p50/p95."""
        tenant = request.user.tenant_id
        figures, headers = await read_model(
            request, ("tasks",), lambda conn: task_dashboard(conn, tenant), min_position
        )
        return Response(figures, headers=headers)
