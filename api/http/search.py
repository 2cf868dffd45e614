"""HTTP resource for full-text search over a tenant's messages."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Response

from api.http.auth import requires
from api.http.fields import NO_NUL
from api.http.reads import READ_MODEL, After, Limit, MinPosition, ReadModels, parse_cursor
from application.context import Principal
from projections.message_search import search_messages

Query = Annotated[
    str, QueryParameter(min_length=1, max_length=500, pattern=NO_NUL, description="Web-style query")
]


class SearchHitOut(msgspec.Struct):
    conversation_id: UUID
    message_id: UUID
    role: str
    author: str | None  # None: erased (no erased content is found)
    content: str | None
    snippet: str
    rank: float
    position: int
    created_at: datetime


class SearchPage(msgspec.Struct):
    items: list[SearchHitOut]
    next: str | None


class SearchController(Controller):
    path = "/v1/search"
    tags = ["search"]

    @get("/messages", guards=[requires("read")], operation_id="searchMessages", opt=READ_MODEL)
    async def messages(
        self,
        request: Request[Principal, Any, Any],
        read_models: NamedDependency[ReadModels],
        q: Query,
        after: After = None,
        limit: Limit = 20,
        min_position: MinPosition = None,
    ) -> Response[SearchPage]:
        """Messages matching ``q`` (words, "phrases", -exclusions, or), best first."""
        tenant, offset = request.user.tenant_id, parse_cursor(after) or 0
        (hits, next_offset), headers = await read_models.query(
            ("message_search",),
            lambda conn: search_messages(conn, tenant, q, offset, limit),
            min_position,
        )
        items = [
            SearchHitOut(
                h.message.conversation_id,
                h.message.message_id,
                h.message.role,
                h.message.author,
                h.message.content,
                h.snippet,
                h.rank,
                h.message.position,
                h.message.created_at,
            )
            for h in hits
        ]
        return Response(
            SearchPage(items, None if next_offset is None else str(next_offset)), headers=headers
        )
