"""HTTP resource for conversations: start, post a message, rename, archive, read one."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.response import Response

from api.http.auth import requires
from api.http.commands import Changed, Created, answer
from api.http.fields import NO_NUL, Content, ContentType, Count, Name, ParticipantPath, Title
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
from application.conversations import Conversations
from application.errors import Forbidden, NotFound
from application.ports import CommandResult
from domain.conversation import PARTICIPANTS_MAX, PLAIN_TEXT, ROLE_MAX_CHARS
from infrastructure.read_models import Conn
from projections.conversations import ConversationRow, get_conversation, list_conversations
from projections.messages import MessageRow, get_message, message_history

READS = ("conversations",)
HISTORY_READS = ("conversations", "messages")
WRITE = [requires("commands:write")]
POST = [requires("commands:write", user="messages:write")]
# What a user token reads of a conversation it names: with the scope it follows it live.
READ_ONE = [requires("read", user="live:read")]
READ = [requires("read")]


class StartConversation(msgspec.Struct, forbid_unknown_fields=True):
    title: Title
    participants: Annotated[list[Name], msgspec.Meta(max_length=PARTICIPANTS_MAX)] = []


class PostMessage(msgspec.Struct, forbid_unknown_fields=True):
    role: Literal["user", "assistant", "system", "tool"]
    content: Content
    author: Name | None = None
    tokens: Count | None = None
    content_type: ContentType = PLAIN_TEXT


class Join(msgspec.Struct, forbid_unknown_fields=True):
    user_id: Name
    role: Annotated[str, msgspec.Meta(min_length=1, max_length=ROLE_MAX_CHARS, pattern=NO_NUL)] = (
        "member"
    )


class RenameConversation(msgspec.Struct, forbid_unknown_fields=True):
    title: Title


class MessageCreated(msgspec.Struct):
    message_id: UUID
    version: int
    position: int

    @classmethod
    def of(cls, result: CommandResult) -> MessageCreated:
        return cls(UUID(result.fields["message_id"]), result.version, result.position)


class ConversationPage(msgspec.Struct):
    items: list[ConversationRow]
    next: str | None


class MessageOut(msgspec.Struct):
    """A message; an erased one has no content and no author (``null``), and says so."""

    message_id: UUID
    role: str
    author: str | None
    content: str | None
    tokens: int | None
    position: int
    created_at: datetime
    content_type: str
    erased: bool


class MessagePage(msgspec.Struct):
    items: list[MessageOut]
    next: str | None


def _message(row: MessageRow) -> MessageOut:
    return MessageOut(
        row.message_id,
        row.role,
        row.author,
        row.content,
        row.tokens,
        row.position,
        row.created_at,
        row.content_type,
        row.content is None,
    )


def visible(principal: Principal, conversation_id: UUID) -> str:
    """The tenant whose conversation a principal may see: any of its tenant's with an API
    key; with a user token, only one the token names (any other is `NotFound`, as another
    tenant's is)."""
    if principal.user_id is not None and str(conversation_id) not in principal.conversations:
        raise NotFound(f"conversation {conversation_id} not found")
    return principal.tenant_id


def posting_as(principal: Principal, conversation_id: UUID, data: PostMessage) -> str | None:
    """The author of a message: as sent for an API key; a user token's own user, and only
    in a conversation the token names."""
    visible(principal, conversation_id)
    if principal.user_id is None:
        return data.author
    if data.role != "user" or data.author not in (None, principal.user_id):
        raise Forbidden("a user token posts as its own user, with the role 'user'")
    return principal.user_id


class ConversationsController(Controller):
    path = "/v1/conversations"
    tags = ["conversations"]

    @post(
        "/",
        guards=WRITE,
        status_code=201,
        operation_id="startConversation",
        opt={"command": "conversation.start"},
    )
    async def start(
        self,
        context: NamedDependency[CommandContext],
        conversations: NamedDependency[Conversations],
        data: JSONBody[StartConversation],
    ) -> Response[Created]:
        """Start a conversation."""
        result = await conversations.start(context, data.title, data.participants)
        location = f"/v1/conversations/{result.id}"
        return answer(Created.of(result), result, status_code=201, location=location)

    @post(
        "/{conversation_id:uuid}/messages",
        guards=POST,
        status_code=201,
        operation_id="postMessage",
        opt={"command": "conversation.post_message"},
    )
    async def post_message(
        self,
        request: Request[Principal, Any, Any],
        conversation_id: FromPath[UUID],
        context: NamedDependency[CommandContext],
        expected_version: NamedDependency[int | None],
        conversations: NamedDependency[Conversations],
        data: JSONBody[PostMessage],
    ) -> Response[MessageCreated]:
        """Post a message; without If-Match it retries by itself on a concurrent write.
        With a user token: into a conversation the token names, as its user."""
        author = posting_as(request.user, conversation_id, data)
        result = await conversations.post_message(
            context,
            conversation_id,
            role=data.role,
            content=data.content,
            author=author,
            tokens=data.tokens,
            content_type=data.content_type,
            expected_version=expected_version,
        )
        posted = MessageCreated.of(result)
        location = f"/v1/conversations/{conversation_id}/messages/{posted.message_id}"
        return answer(posted, result, status_code=201, location=location)

    @post(
        "/{conversation_id:uuid}/rename",
        guards=WRITE,
        status_code=200,
        operation_id="renameConversation",
        opt={"command": "conversation.rename"},
    )
    async def rename(
        self,
        conversation_id: FromPath[UUID],
        context: NamedDependency[CommandContext],
        expected_version: NamedDependency[int | None],
        conversations: NamedDependency[Conversations],
        data: JSONBody[RenameConversation],
    ) -> Response[Changed]:
        """Rename a conversation."""
        result = await conversations.rename(context, conversation_id, data.title, expected_version)
        return answer(Changed.of(result), result)

    @post(
        "/{conversation_id:uuid}/participants",
        guards=WRITE,
        status_code=200,
        operation_id="addParticipant",
        opt={"command": "conversation.join"},
    )
    async def join(
        self,
        conversation_id: FromPath[UUID],
        context: NamedDependency[CommandContext],
        conversations: NamedDependency[Conversations],
        data: JSONBody[Join],
    ) -> Response[Changed]:
        """Add a participant (``ParticipantJoined``; `409` if it takes part already)."""
        result = await conversations.join(context, conversation_id, data.user_id, data.role)
        return answer(Changed.of(result), result)

    @delete(
        "/{conversation_id:uuid}/participants/{user_id:str}",
        guards=WRITE,
        status_code=200,
        operation_id="removeParticipant",
        opt={"command": "conversation.leave"},
    )
    async def leave(
        self,
        conversation_id: FromPath[UUID],
        user_id: ParticipantPath,
        context: NamedDependency[CommandContext],
        conversations: NamedDependency[Conversations],
    ) -> Response[Changed]:
        """Remove a participant (``ParticipantLeft``; `409` if it takes no part)."""
        result = await conversations.leave(context, conversation_id, user_id)
        return answer(Changed.of(result), result)

    @post(
        "/{conversation_id:uuid}/archive",
        guards=WRITE,
        status_code=200,
        operation_id="archiveConversation",
        opt={"command": "conversation.archive"},
    )
    async def archive(
        self,
        conversation_id: FromPath[UUID],
        context: NamedDependency[CommandContext],
        expected_version: NamedDependency[int | None],
        conversations: NamedDependency[Conversations],
    ) -> Response[Changed]:
        """Archive a conversation; later posts are refused with 409."""
        result = await conversations.archive(context, conversation_id, expected_version)
        return answer(Changed.of(result), result)

    @get("/", guards=READ, operation_id="listConversations", opt=READ_MODEL)
    async def list_conversations(
        self,
        request: Request[Principal, Any, Any],
        read_models: NamedDependency[ReadModels],
        after: After = None,
        limit: Limit = 50,
        min_position: MinPosition = None,
    ) -> Response[ConversationPage]:
        """The tenant's conversations, newest first."""
        tenant, cursor = request.user.tenant_id, parse_cursor(after)
        (rows, next_cursor), headers = await read_models.query(
            READS, lambda conn: list_conversations(conn, tenant, cursor, limit), min_position
        )
        return Response(ConversationPage(rows, next_cursor_of(next_cursor)), headers=headers)

    @get("/{conversation_id:uuid}", guards=READ_ONE, operation_id="getConversation", opt=READ_MODEL)
    async def get_one(
        self,
        request: Request[Principal, Any, Any],
        conversation_id: FromPath[UUID],
        read_models: NamedDependency[ReadModels],
        min_position: MinPosition = None,
        if_none_match: IfNoneMatch = None,
    ) -> Response[ConversationRow]:
        """One conversation, with its version as ETag."""
        tenant = visible(request.user, conversation_id)
        row, headers = await read_models.query(
            READS, lambda conn: get_conversation(conn, tenant, conversation_id), min_position
        )
        if row is None:
            raise NotFound(f"conversation {conversation_id} not found")
        return one(row, row.version, headers, if_none_match)

    @get(
        "/{conversation_id:uuid}/messages",
        guards=READ_ONE,
        operation_id="listMessages",
        opt=READ_MODEL,
    )
    async def history(
        self,
        request: Request[Principal, Any, Any],
        conversation_id: FromPath[UUID],
        read_models: NamedDependency[ReadModels],
        after: After = None,
        limit: Limit = 100,
        min_position: MinPosition = None,
    ) -> Response[MessagePage]:
        """The conversation's messages, oldest first."""
        tenant, cursor = visible(request.user, conversation_id), parse_cursor(after)

        def run(conn: Conn) -> tuple[list[MessageRow], int | None] | None:
            if get_conversation(conn, tenant, conversation_id) is None:
                return None
            return message_history(conn, tenant, conversation_id, cursor, limit)

        found, headers = await read_models.query(HISTORY_READS, run, min_position)
        if found is None:
            raise NotFound(f"conversation {conversation_id} not found")
        rows, next_cursor = found
        page = MessagePage([_message(r) for r in rows], next_cursor_of(next_cursor))
        return Response(page, headers=headers)

    @get(
        "/{conversation_id:uuid}/messages/{message_id:uuid}",
        guards=READ_ONE,
        operation_id="getMessage",
        opt=READ_MODEL,
    )
    async def get_message(
        self,
        request: Request[Principal, Any, Any],
        conversation_id: FromPath[UUID],
        message_id: FromPath[UUID],
        read_models: NamedDependency[ReadModels],
        min_position: MinPosition = None,
    ) -> Response[MessageOut]:
        """One message of a conversation (where a posted message's Location points)."""
        tenant = visible(request.user, conversation_id)
        row, headers = await read_models.query(
            ("messages",),
            lambda conn: get_message(conn, tenant, conversation_id, message_id),
            min_position,
        )
        if row is None:
            raise NotFound(f"message {message_id} not found")
        return Response(_message(row), headers=headers)
