"""HTTP resource for agent runs: the five agent events, deltas, and the timeline."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import anyio.to_thread
import msgspec
from litestar import Controller, Request, get, post
from litestar.params import FromPath, JSONBody
from litestar.response import Response

from api.bootstrap import Container
from api.http.auth import requires
from api.http.commands import run_command, version_and_position
from api.http.reads import After, Limit, MinPosition, next_cursor_of, parse_cursor, read_model
from api.http.usage import ensure_within_budget
from application.context import Principal
from application.errors import NotFound
from application.ports import CommandResult
from domain.errors import InvalidValue
from infrastructure.deltas import Deltas
from projections.runs import conversation_runs, run_timeline

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Text = Annotated[str, msgspec.Meta(min_length=1)]
WRITE = [requires("commands:write")]
READ = [requires("read")]


class StartRun(msgspec.Struct, forbid_unknown_fields=True):
    conversation_id: UUID
    agent: Name
    model: Name
    input_message_id: UUID | None = None


class Thinking(msgspec.Struct, forbid_unknown_fields=True):
    text: Text


class ToolCall(msgspec.Struct, forbid_unknown_fields=True):
    call_id: Name
    tool: Name
    arguments: Any = None


class ToolResult(msgspec.Struct, forbid_unknown_fields=True):
    duration_ms: Annotated[int, msgspec.Meta(ge=0)]
    result: Any = None
    error: Text | None = None


class Usage(msgspec.Struct, forbid_unknown_fields=True):
    input_tokens: Annotated[int, msgspec.Meta(ge=0)] = 0
    output_tokens: Annotated[int, msgspec.Meta(ge=0)] = 0
    cost_usd: Annotated[float, msgspec.Meta(ge=0)] = 0.0


class Complete(msgspec.Struct, forbid_unknown_fields=True):
    content: Text | None = None
    usage: Usage = msgspec.field(default_factory=Usage)


class Fail(msgspec.Struct, forbid_unknown_fields=True):
    error: Text


class Cancel(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class Delta(msgspec.Struct, forbid_unknown_fields=True):
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=65536)]


def _started(result: CommandResult) -> dict[str, Any]:
    return {"id": str(result.id), **version_and_position(result)}


def _completed(result: CommandResult) -> dict[str, Any]:
    return {"message_id": result.fields["message_id"], **version_and_position(result)}


class RunsController(Controller):
    path = "/v1/runs"
    tags = ["runs"]

    @post("/", guards=WRITE, status_code=201, opt={"command": "run.start"})
    async def start(
        self, request: Request[Principal, Any, Any], data: JSONBody[StartRun]
    ) -> Response[dict[str, Any]]:
        """Start an agent run in a conversation (agent_started); ``429 budget-exceeded``
        once the tenant has used its daily budget."""
        await ensure_within_budget(request)
        c: Container = request.app.state.container
        return await run_command(
            request,
            lambda ctx: c.on_loop.runs.start(
                ctx, data.conversation_id, data.agent, data.model, data.input_message_id
            ),
            _started,
            201,
        )

    @post("/{run_id:uuid}/thinking", guards=WRITE, status_code=200, opt={"command": "run.think"})
    async def thinking(
        self,
        request: Request[Principal, Any, Any],
        run_id: FromPath[UUID],
        data: JSONBody[Thinking],
    ) -> Response[dict[str, Any]]:
        """Record a thought (agent_thinking)."""
        c: Container = request.app.state.container
        return await run_command(
            request,
            lambda ctx: c.on_loop.runs.think(ctx, run_id, data.text),
            version_and_position,
        )

    @post(
        "/{run_id:uuid}/tools", guards=WRITE, status_code=200, opt={"command": "run.tool_started"}
    )
    async def tool(
        self,
        request: Request[Principal, Any, Any],
        run_id: FromPath[UUID],
        data: JSONBody[ToolCall],
    ) -> Response[dict[str, Any]]:
        """A tool call starts (tool_executing)."""
        c: Container = request.app.state.container
        return await run_command(
            request,
            lambda ctx: c.on_loop.runs.start_tool(
                ctx, run_id, data.call_id, data.tool, data.arguments
            ),
            version_and_position,
        )

    @post(
        "/{run_id:uuid}/tools/{call_id:str}/result",
        guards=WRITE,
        status_code=200,
        opt={"command": "run.tool_completed"},
    )
    async def tool_result(
        self,
        request: Request[Principal, Any, Any],
        run_id: FromPath[UUID],
        call_id: FromPath[str],
        data: JSONBody[ToolResult],
    ) -> Response[dict[str, Any]]:
        """A started tool call ends, once (tool_completed)."""
        c: Container = request.app.state.container
        return await run_command(
            request,
            lambda ctx: c.on_loop.runs.finish_tool(
                ctx, run_id, call_id, data.result, data.error, data.duration_ms
            ),
            version_and_position,
        )

    @post("/{run_id:uuid}/complete", guards=WRITE, status_code=200, opt={"command": "run.complete"})
    async def complete(
        self,
        request: Request[Principal, Any, Any],
        run_id: FromPath[UUID],
        data: JSONBody[Complete],
    ) -> Response[dict[str, Any]]:
        """Complete the run and post its answer to the conversation, atomically
        (agent_completed). Without ``content`` the streamed deltas are stored.
        """
        c: Container = request.app.state.container
        deltas: Deltas = request.app.state.deltas
        tenant = request.user.tenant_id
        content = data.content or await deltas.buffered(tenant, str(run_id))
        if not content:
            raise InvalidValue("content", "give content, or stream deltas before completing")
        usage = msgspec.structs.asdict(data.usage)
        response = await run_command(
            request,
            lambda ctx: c.on_loop.runs.complete(ctx, run_id, content, usage),
            _completed,
        )
        await deltas.discard(tenant, str(run_id))
        return response

    @post("/{run_id:uuid}/fail", guards=WRITE, status_code=200, opt={"command": "run.fail"})
    async def fail(
        self, request: Request[Principal, Any, Any], run_id: FromPath[UUID], data: JSONBody[Fail]
    ) -> Response[dict[str, Any]]:
        """The run failed (agent_failed)."""
        c: Container = request.app.state.container
        return await run_command(
            request,
            lambda ctx: c.on_loop.runs.fail(ctx, run_id, data.error),
            version_and_position,
        )

    @post("/{run_id:uuid}/cancel", guards=WRITE, status_code=200, opt={"command": "run.cancel"})
    async def cancel(
        self, request: Request[Principal, Any, Any], run_id: FromPath[UUID], data: JSONBody[Cancel]
    ) -> Response[dict[str, Any]]:
        """The run was cancelled (agent_cancelled)."""
        c: Container = request.app.state.container
        return await run_command(
            request,
            lambda ctx: c.on_loop.runs.cancel(ctx, run_id, data.reason),
            version_and_position,
        )

    @post("/{run_id:uuid}/deltas", guards=WRITE, status_code=202, opt={"command": "run.delta"})
    async def delta(
        self, request: Request[Principal, Any, Any], run_id: FromPath[UUID], data: JSONBody[Delta]
    ) -> dict[str, int]:
        """A token delta: published live, never stored; `complete` stores their concatenation."""
        c: Container = request.app.state.container
        tenant = request.user.tenant_id
        await anyio.to_thread.run_sync(c.runs.check_running, tenant, run_id)
        deltas: Deltas = request.app.state.deltas
        return {"buffered_bytes": await deltas.publish(tenant, str(run_id), data.text)}

    @get("/{run_id:uuid}", guards=READ)
    async def timeline(
        self,
        request: Request[Principal, Any, Any],
        run_id: FromPath[UUID],
        min_position: MinPosition = None,
    ) -> Response[dict[str, Any]]:
        """Steps in order with timestamps and durations, tool calls, and totals."""
        tenant = request.user.tenant_id
        found, headers = await read_model(
            request, ("runs",), lambda conn: run_timeline(conn, tenant, run_id), min_position
        )
        if found is None:
            raise NotFound(f"run {run_id} not found")
        return Response(found, headers=headers | {"ETag": f'"{found["version"]}"'})


class ConversationRunsController(Controller):
    path = "/v1/conversations"
    tags = ["runs"]

    @get("/{conversation_id:uuid}/runs", guards=READ)
    async def runs(
        self,
        request: Request[Principal, Any, Any],
        conversation_id: FromPath[UUID],
        after: After = None,
        limit: Limit = 50,
        min_position: MinPosition = None,
    ) -> Response[dict[str, Any]]:
        """The conversation's runs, oldest first."""
        tenant, cursor = request.user.tenant_id, parse_cursor(after)
        (items, next_cursor), headers = await read_model(
            request,
            ("runs",),
            lambda conn: conversation_runs(conn, tenant, conversation_id, cursor, limit),
            min_position,
        )
        return Response(
            {"items": items, "next": next_cursor_of(next_cursor)},
            headers=headers,
        )
