"""HTTP resource for conversations: start, post a message, rename, archive, read one."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import anyio.to_thread
import msgspec
from litestar import Controller, Request, get, post
from litestar.params import FromPath, JSONBody
from litestar.response import Response

from api.bootstrap import Container
from api.http.auth import requires
from api.http.commands import expected_version, run_command, version_and_position
from application.context import Principal
from application.ports import CommandResult
from domain.conversation import PARTICIPANTS_MAX, TITLE_MAX_CHARS

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


class ConversationOut(msgspec.Struct):
    id: UUID
    title: str
    participants: list[str]
    message_count: int
    archived: bool
    version: int
    created_at: datetime
    updated_at: datetime


def _started(result: CommandResult) -> dict[str, Any]:
    return {"id": str(result.id), **version_and_position(result)}


def _posted(result: CommandResult) -> dict[str, Any]:
    return {"message_id": result.fields["message_id"], **version_and_position(result)}


class ConversationsController(Controller):
    path = "/v1/conversations"
    tags = ["conversations"]

    @post("/", guards=[requires("commands:write")], status_code=201, response_model=Started)
    async def start(
        self, request: Request[Principal, Any, Any], data: JSONBody[StartConversation]
    ) -> Response[dict[str, Any]]:
        """Start a conversation."""
        container: Container = request.app.state.container
        return await run_command(
            request,
            "conversation.start",
            lambda ctx: container.conversations.start(ctx, data.title, data.participants),
            _started,
            201,
        )

    @post("/{conversation_id:uuid}/messages", guards=[requires("commands:write")], status_code=201)
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
            "conversation.post_message",
            lambda ctx: container.conversations.post_message(
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

    @post("/{conversation_id:uuid}/rename", guards=[requires("commands:write")], status_code=200)
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
            "conversation.rename",
            lambda ctx: container.conversations.rename(ctx, conversation_id, data.title, expected),
            version_and_position,
        )

    @post("/{conversation_id:uuid}/archive", guards=[requires("commands:write")], status_code=200)
    async def archive(
        self, request: Request[Principal, Any, Any], conversation_id: FromPath[UUID]
    ) -> Response[Changed]:
        """Archive a conversation; later posts are refused with 409."""
        container: Container = request.app.state.container
        expected = expected_version(request)
        return await run_command(  # type: ignore[return-value]
            request,
            "conversation.archive",
            lambda ctx: container.conversations.archive(ctx, conversation_id, expected),
            version_and_position,
        )

    @get("/{conversation_id:uuid}", guards=[requires("read")])
    async def get_one(
        self, request: Request[Principal, Any, Any], conversation_id: FromPath[UUID]
    ) -> Response[ConversationOut]:
        """One conversation, with its version as ETag."""
        container: Container = request.app.state.container
        view = await anyio.to_thread.run_sync(
            container.conversations.get, request.user.tenant_id, conversation_id
        )
        body = ConversationOut(**vars(view))
        return Response(body, headers={"ETag": f'"{view.version}"'})
