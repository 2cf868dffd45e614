"""HTTP resource for agent runs: the five agent events, deltas, and the timeline."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, PathParameter
from litestar.response import Response

from api.http.auth import requires
from api.http.commands import Changed, Created, answer
from api.http.conversations import MessageCreated
from api.http.fields import (
    NO_NUL,
    Content,
    Count,
    JsonValue,
    LongText,
    Name,
    Reason,
    checked_json,
)
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
from application.runs import Runs
from domain.agent_run import COST_MAX_USD, NAME_MAX_CHARS
from domain.errors import RuleViolation
from infrastructure.deltas import Deltas
from projections.runs import conversation_runs, run_timeline

WRITE = [requires("commands:write")]
READ = [requires("read")]
CallId = Annotated[
    str,
    PathParameter(
        min_length=1, max_length=NAME_MAX_CHARS, pattern=NO_NUL, description="A tool call's id"
    ),
]


class StartRun(msgspec.Struct, forbid_unknown_fields=True):
    conversation_id: UUID
    agent: Name
    model: Name
    input_message_id: UUID | None = None
    document_id: UUID | None = None  # a shared document the run edits (its ops name the run)


class Thinking(msgspec.Struct, forbid_unknown_fields=True):
    text: LongText


class ToolCall(msgspec.Struct, forbid_unknown_fields=True):
    call_id: Name
    tool: Name
    arguments: JsonValue = None

    def __post_init__(self) -> None:
        checked_json("arguments", self.arguments)


class ToolResult(msgspec.Struct, forbid_unknown_fields=True):
    duration_ms: Count
    result: JsonValue = None
    error: LongText | None = None

    def __post_init__(self) -> None:
        checked_json("result", self.result)


class Usage(msgspec.Struct, forbid_unknown_fields=True):
    input_tokens: Count = 0
    output_tokens: Count = 0
    cost_usd: Annotated[float, msgspec.Meta(ge=0, le=COST_MAX_USD)] = 0.0


class Complete(msgspec.Struct, forbid_unknown_fields=True):
    content: Content | None = None
    usage: Usage = msgspec.field(default_factory=Usage)


class Fail(msgspec.Struct, forbid_unknown_fields=True):
    error: LongText


class Cancel(msgspec.Struct, forbid_unknown_fields=True):
    reason: Reason = ""


class Delta(msgspec.Struct, forbid_unknown_fields=True):
    text: Content


class Buffered(msgspec.Struct):
    buffered_bytes: int


class RunsController(Controller):
    path = "/v1/runs"
    tags = ["runs"]

    @post(
        "/",
        guards=WRITE,
        status_code=201,
        operation_id="startRun",
        opt={
            "command": "run.start",
            "problems": (404,),
            "problem_notes": {
                404: "The conversation is not found, or another tenant's",
                429: "Over the key's rate limit, or the tenant's daily budget is used"
                " (type budget-exceeded, until 00:00 UTC)",
                503: "PostgreSQL or Valkey cannot be reached now, or a budget applies and the"
                " tenant's usage cannot be counted (type usage-unavailable)",
            },
        },
    )
    async def start(
        self,
        context: NamedDependency[CommandContext],
        runs: NamedDependency[Runs],
        data: JSONBody[StartRun],
    ) -> Response[Created]:
        """Start an agent run in a conversation (agent_started), editing a shared document
        if it names one; ``429 budget-exceeded`` once the tenant has used its daily budget."""
        result = await runs.start(
            context,
            data.conversation_id,
            data.agent,
            data.model,
            data.input_message_id,
            data.document_id,
        )
        location = f"/v1/runs/{result.id}"
        return answer(Created.of(result), result, status_code=201, location=location)

    @post(
        "/{run_id:uuid}/thinking",
        guards=WRITE,
        status_code=200,
        operation_id="recordThought",
        opt={"command": "run.think"},
    )
    async def thinking(
        self,
        run_id: FromPath[UUID],
        context: NamedDependency[CommandContext],
        runs: NamedDependency[Runs],
        data: JSONBody[Thinking],
    ) -> Response[Changed]:
        """Record a thought (agent_thinking)."""
        result = await runs.think(context, run_id, data.text)
        return answer(Changed.of(result), result)

    @post(
        "/{run_id:uuid}/tools",
        guards=WRITE,
        status_code=200,
        operation_id="startToolCall",
        opt={"command": "run.tool_started"},
    )
    async def tool(
        self,
        run_id: FromPath[UUID],
        context: NamedDependency[CommandContext],
        runs: NamedDependency[Runs],
        data: JSONBody[ToolCall],
    ) -> Response[Changed]:
        """A tool call starts (tool_executing)."""
        result = await runs.start_tool(context, run_id, data.call_id, data.tool, data.arguments)
        return answer(Changed.of(result), result)

    @post(
        "/{run_id:uuid}/tools/{call_id:str}/result",
        guards=WRITE,
        status_code=200,
        operation_id="completeToolCall",
        opt={"command": "run.tool_completed"},
    )
    async def tool_result(
        self,
        run_id: FromPath[UUID],
        call_id: CallId,
        context: NamedDependency[CommandContext],
        runs: NamedDependency[Runs],
        data: JSONBody[ToolResult],
    ) -> Response[Changed]:
        """A started tool call ends, once (tool_completed)."""
        result = await runs.finish_tool(
            context, run_id, call_id, data.result, data.error, data.duration_ms
        )
        return answer(Changed.of(result), result)

    @post(
        "/{run_id:uuid}/complete",
        guards=WRITE,
        status_code=200,
        operation_id="completeRun",
        opt={"command": "run.complete"},
    )
    async def complete(
        self,
        request: Request[Principal, Any, Any],
        run_id: FromPath[UUID],
        context: NamedDependency[CommandContext],
        runs: NamedDependency[Runs],
        deltas: NamedDependency[Deltas],
        data: JSONBody[Complete],
    ) -> Response[MessageCreated]:
        """Complete the run and post its answer to the conversation, atomically
        (agent_completed). Without ``content`` the streamed deltas are stored; with neither,
        ``409``.
        """
        tenant = request.user.tenant_id
        content = data.content
        if not content:
            await runs.check_running(tenant, run_id)
            content = await deltas.buffered(tenant, str(run_id))
            if not content:
                raise RuleViolation("give content, or stream deltas before completing")
        result = await runs.complete(context, run_id, content, msgspec.structs.asdict(data.usage))
        await deltas.discard(tenant, str(run_id))
        return answer(MessageCreated.of(result), result)

    @post(
        "/{run_id:uuid}/fail",
        guards=WRITE,
        status_code=200,
        operation_id="failRun",
        opt={"command": "run.fail"},
    )
    async def fail(
        self,
        run_id: FromPath[UUID],
        context: NamedDependency[CommandContext],
        runs: NamedDependency[Runs],
        data: JSONBody[Fail],
    ) -> Response[Changed]:
        """The run failed (agent_failed)."""
        result = await runs.fail(context, run_id, data.error)
        return answer(Changed.of(result), result)

    @post(
        "/{run_id:uuid}/cancel",
        guards=WRITE,
        status_code=200,
        operation_id="cancelRun",
        opt={"command": "run.cancel"},
    )
    async def cancel(
        self,
        run_id: FromPath[UUID],
        context: NamedDependency[CommandContext],
        runs: NamedDependency[Runs],
        data: JSONBody[Cancel],
    ) -> Response[Changed]:
        """The run was cancelled (agent_cancelled)."""
        result = await runs.cancel(context, run_id, data.reason)
        return answer(Changed.of(result), result)

    @post(
        "/{run_id:uuid}/deltas",
        guards=WRITE,
        status_code=202,
        operation_id="streamDelta",
        opt={"command": "run.delta"},
    )
    async def delta(
        self,
        request: Request[Principal, Any, Any],
        run_id: FromPath[UUID],
        runs: NamedDependency[Runs],
        deltas: NamedDependency[Deltas],
        data: JSONBody[Delta],
    ) -> Buffered:
        """A token delta: published live, never stored; `complete` stores their concatenation."""
        tenant = request.user.tenant_id
        await runs.check_running(tenant, run_id)
        return Buffered(await deltas.publish(tenant, str(run_id), data.text))

    @get("/{run_id:uuid}", guards=READ, operation_id="getRun", opt=READ_MODEL)
    async def timeline(
        self,
        request: Request[Principal, Any, Any],
        run_id: FromPath[UUID],
        read_models: NamedDependency[ReadModels],
        min_position: MinPosition = None,
        if_none_match: IfNoneMatch = None,
    ) -> Response[dict[str, Any]]:
        """Steps in order with timestamps and durations, tool calls, and totals."""
        tenant = request.user.tenant_id
        found, headers = await read_models.query(
            ("runs",), lambda conn: run_timeline(conn, tenant, run_id), min_position
        )
        if found is None:
            raise NotFound(f"run {run_id} not found")
        return one(found, found["version"], headers, if_none_match)


class ConversationRunsController(Controller):
    path = "/v1/conversations"
    tags = ["runs"]

    @get(
        "/{conversation_id:uuid}/runs",
        guards=READ,
        operation_id="listConversationRuns",
        opt=READ_MODEL,
    )
    async def runs(
        self,
        request: Request[Principal, Any, Any],
        conversation_id: FromPath[UUID],
        read_models: NamedDependency[ReadModels],
        after: After = None,
        limit: Limit = 50,
        min_position: MinPosition = None,
    ) -> Response[dict[str, Any]]:
        """The conversation's runs, oldest first."""
        tenant, cursor = request.user.tenant_id, parse_cursor(after)
        (items, next_cursor), headers = await read_models.query(
            ("runs",),
            lambda conn: conversation_runs(conn, tenant, conversation_id, cursor, limit),
            min_position,
        )
        return Response({"items": items, "next": next_cursor_of(next_cursor)}, headers=headers)
