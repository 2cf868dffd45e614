"""HTTP resource for the raw stored events of one aggregate."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import anyio.to_thread
import msgspec
from litestar import Controller, Request, get
from litestar.params import FromPath, QueryParameter

from api.bootstrap import Container
from api.http.auth import requires
from application.context import Principal


class StoredEventOut(msgspec.Struct):
    position: int
    version: int
    type: str
    data: dict[str, Any]
    metadata: dict[str, Any]
    recorded_at: datetime


class StreamPage(msgspec.Struct):
    items: list[StoredEventOut]
    next: str | None


class StreamsController(Controller):
    path = "/v1/streams"
    tags = ["streams"]

    @get("/{aggregate_id:uuid}/events", guards=[requires("read")])
    async def events(
        self,
        request: Request[Principal, Any, Any],
        aggregate_id: FromPath[UUID],
        from_version: Annotated[int, QueryParameter(ge=1)] = 1,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
    ) -> StreamPage:
        """Stored events of one aggregate, oldest first; ``next`` is the next from_version."""
        container: Container = request.app.state.container
        events = await anyio.to_thread.run_sync(
            container.streams.read, request.user.tenant_id, aggregate_id, from_version, limit
        )
        items = [
            StoredEventOut(e.position, e.version, e.type, e.data, e.metadata, e.recorded_at)
            for e in events
        ]
        next_version = str(items[-1].version + 1) if len(items) == limit else None
        return StreamPage(items=items, next=next_version)
