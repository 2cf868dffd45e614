"""Who is in a conversation now, and who is typing: ephemeral, never in the log.

A user is present in a conversation while one of its live connections (SSE or WebSocket,
on any API process) holds a token naming it; typing lasts a few seconds unless sent
again. Both are pushed to the conversation's live followers as events without an id.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from api.http.auth import requires
from api.http.conversations import visible
from application.context import Principal
from application.errors import Forbidden
from domain.people import USER_ID
from infrastructure.live_limits import LiveLimits
from infrastructure.signals import TYPING_S, Signals


class Present(msgspec.Struct):
    user_id: str
    connections: int


class Presence(msgspec.Struct):
    conversation_id: UUID
    users: list[Present]


class Typing(msgspec.Struct):
    expires_in_s: int


class TypingBy(msgspec.Struct, forbid_unknown_fields=True):
    """Who is typing: a user a key names, or a user token's own user."""

    user_id: Annotated[str, msgspec.Meta(max_length=128, pattern=USER_ID.pattern)]


class PresenceController(Controller):
    path = "/v1/conversations"
    tags = ["presence"]

    @get(
        "/{conversation_id:uuid}/presence",
        guards=[requires("read", user="live:read")],
        operation_id="getPresence",
    )
    async def presence(
        self,
        request: Request[Principal, Any, Any],
        conversation_id: FromPath[UUID],
        live_limits: NamedDependency[LiveLimits],
    ) -> Presence:
        """The users present in the conversation now, across every API process."""
        tenant = visible(request.user, conversation_id)
        users = await live_limits.present(tenant, str(conversation_id))
        return Presence(conversation_id, [Present(u, n) for u, n in sorted(users.items())])

    @post(
        "/{conversation_id:uuid}/typing",
        guards=[requires("commands:write", user="presence:write")],
        status_code=202,
        operation_id="sendTyping",
    )
    async def typing(
        self,
        request: Request[Principal, Any, Any],
        conversation_id: FromPath[UUID],
        signals: NamedDependency[Signals],
        data: JSONBody[TypingBy],
    ) -> Typing:
        """Tell the conversation's followers that a user is typing (for five seconds,
        unless sent again): the user a key names, or a user token's own user."""
        principal = request.user
        tenant = visible(principal, conversation_id)
        if principal.user_id not in (None, data.user_id):
            raise Forbidden("a user token types as its own user")
        await signals.typing(tenant, str(conversation_id), data.user_id)
        return Typing(TYPING_S)
