"""HTTP resource for conversations: start, post a message, rename, archive, read one."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import FromPath, JSONBody
from litestar.response import Response

from api.bootstrap import Container
from api.http.auth import requires
from api.http.commands import expected_version, run_command, version_and_position
from api.http.reads import After, Limit, MinPosition, next_cursor_of, parse_cursor, read_model
from application.context import Principal
from application.errors import NotFound
from application.ports import CommandResult
from domain.conversation import PARTICIPANTS_MAX, TITLE_MAX_CHARS
from infrastructure.read_models import Conn
from projections.conversations import ConversationRow, get_conversation, list_conversations
from projections.messages import MessageRow, message_history

READS = ("conversations",)
HISTORY_READS = ("conversations", "messages")

Title = Annotated[str, msgspec.Meta(min_length=1, max_length=TITLE_MAX_CHARS)]


class StartConversation(msgspec.Struct, forbid_unknown_fields=True):
    title: Title
    participants: Annotated[list[str], msgspec.Meta(max_length=PARTICIPANTS_MAX)] = []


class PostMessage(msgspec.Struct, forbid_unknown_fields=True):
    role: Literal["user", "assistant", "system", "tool"]
    content: Annotated[str, msgspec.Meta(min_length=1, description="1 byte to 64 KiB of UTF-8")]
    author: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None
    tokens: Annotated[int, msgspec.Meta(ge=0)] | None = None


class RenameConversation(msgspec.Struct, forbid_unknown_fields=True):
    title: Title


class Started(msgspec.Struct):
    id: UUID
    version: int
    position: int


class MessagePosted(msgspec.Struct):
    message_id: UUID
    version: int
    position: int


class Changed(msgspec.Struct):
    version: int
    position: int


class ConversationPage(msgspec.Struct):
    items: list[ConversationRow]
    next: str | None


class MessageOut(msgspec.Struct):
    message_id: UUID
    role: str
    author: str
    content: str
    tokens: int | None
    position: int
    created_at: datetime


class MessagePage(msgspec.Struct):
    items: list[MessageOut]
    next: str | None


def _message(row: MessageRow) -> MessageOut:
    return MessageOut(
        row.message_id, row.role, row.author, row.content, row.tokens, row.position, row.created_at
    )


def _started(result: CommandResult) -> dict[str, Any]:
    return {"id": str(result.id), **version_and_position(result)}


def _posted(result: CommandResult) -> dict[str, Any]:
    return {"message_id": result.fields["message_id"], **version_and_position(result)}


class ConversationsController(Controller):
    path = "/v1/conversations"
    tags = ["conversations"]

    @post(
        "/",
        guards=[requires("commands:write")],
        status_code=201,
        response_model=Started,
        opt={"command": "conversation.start"},
    )
    async def start(
        self, request: Request[Principal, Any, Any], data: JSONBody[StartConversation]
    ) -> Response[dict[str, Any]]:
        """Start a conversation."""
        container: Container = request.app.state.container
        return await run_command(
            request,
            lambda ctx: container.on_loop.conversations.start(ctx, data.title, data.participants),
            _started,
            201,
        )

    @post(
        "/{conversation_id:uuid}/messages",
        guards=[requires("commands:write")],
        status_code=201,
        opt={"command": "conversation.post_message"},
    )
    async def post_message(
        self,
        request: Request[Principal, Any, Any],
        conversation_id: FromPath[UUID],
        data: JSONBody[PostMessage],
    ) -> Response[MessagePosted]:
        """Post a message; without If-Match it retries by itself on a concurrent write."""
        container: Container = request.app.state.container
        expected = expected_version(request)
        return await run_command(  # type: ignore[return-value]
            request,
            lambda ctx: container.on_loop.conversations.post_message(
                ctx,
                conversation_id,
                role=data.role,
                content=data.content,
                author=data.author,
                tokens=data.tokens,
                expected_version=expected,
            ),
            _posted,
            201,
        )

    @post(
        "/{conversation_id:uuid}/rename",
        guards=[requires("commands:write")],
        status_code=200,
        opt={"command": "conversation.rename"},
    )
    async def rename(
        self,
        request: Request[Principal, Any, Any],
        conversation_id: FromPath[UUID],
        data: JSONBody[RenameConversation],
    ) -> Response[Changed]:
        """Rename a conversation."""
        container: Container = request.app.state.container
        expected = expected_version(request)
        return await run_command(  # type: ignore[return-value]
            request,
            lambda ctx: container.on_loop.conversations.rename(
                ctx, conversation_id, data.title, expected
            ),
            version_and_position,
        )

    @post(
        "/{conversation_id:uuid}/archive",
        guards=[requires("commands:write")],
        status_code=200,
        opt={"command": "conversation.archive"},
    )
    async def archive(
        self, request: Request[Principal, Any, Any], conversation_id: FromPath[UUID]
    ) -> Response[Changed]:
        """Archive a conversation; later posts are refused with 409."""
        container: Container = request.app.state.container
        expected = expected_version(request)
        return await run_command(  # type: ignore[return-value]
            request,
            lambda ctx: container.on_loop.conversations.archive(ctx, conversation_id, expected),
            version_and_position,
        )

    @get("/", guards=[requires("read")])
    async def list_conversations(
        self,
        request: Request[Principal, Any, Any],
        after: After = None,
        limit: Limit = 50,
        min_position: MinPosition = None,
    ) -> Response[ConversationPage]:
        """The tenant's conversations, newest first."""
        tenant, cursor = request.user.tenant_id, parse_cursor(after)
        (rows, next_cursor), headers = await read_model(
            request,
            READS,
            lambda conn: list_conversations(conn, tenant, cursor, limit),
            min_position,
        )
        page = ConversationPage(rows, next_cursor_of(next_cursor))
        return Response(page, headers=headers)

    @get("/{conversation_id:uuid}", guards=[requires("read")])
    async def get_one(
        self,
        request: Request[Principal, Any, Any],
        conversation_id: FromPath[UUID],
        min_position: MinPosition = None,
    ) -> Response[ConversationRow]:
        """One conversation, with its version as ETag."""
        tenant = request.user.tenant_id
        row, headers = await read_model(
            request,
            READS,
            lambda conn: get_conversation(conn, tenant, conversation_id),
            min_position,
        )
        if row is None:
            raise NotFound(f"conversation {conversation_id} not found")
        return Response(row, headers=headers | {"ETag": f'"{row.version}"'})

    @get("/{conversation_id:uuid}/messages", guards=[requires("read")])
    async def history(
        self,
        request: Request[Principal, Any, Any],
        conversation_id: FromPath[UUID],
        after: After = None,
        limit: Limit = 100,
        min_position: MinPosition = None,
    ) -> Response[MessagePage]:
        """The conversation's messages, oldest first."""
        tenant, cursor = request.user.tenant_id, parse_cursor(after)

        def run(conn: Conn) -> tuple[list[MessageRow], int | None] | None:
            if get_conversation(conn, tenant, conversation_id) is None:
                return None
            return message_history(conn, tenant, conversation_id, cursor, limit)

        found, headers = await read_model(request, HISTORY_READS, run, min_position)
        if found is None:
            raise NotFound(f"conversation {conversation_id} not found")
        rows, next_cursor = found
        return Response(
            MessagePage([_message(r) for r in rows], next_cursor_of(next_cursor)), headers=headers
        )
