"""HTTP resource for the raw stored events of one aggregate."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import anyio.to_thread
import msgspec
from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from api.http.auth import requires
from application.context import Principal
from application.streams import Streams
from domain.values import INT64_MAX


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


class EventSummary(msgspec.Struct):
    position: int
    version: int
    type: str
    recorded_at: datetime


class StateOut(msgspec.Struct):
    id: UUID
    type: str
    version: int
    state: dict[str, Any]
    events: list[EventSummary]


class StreamsController(Controller):
    path = "/v1/streams"
    tags = ["streams"]

    @get("/{aggregate_id:uuid}/events", guards=[requires("read")], operation_id="listStreamEvents")
    async def events(
        self,
        request: Request[Principal, Any, Any],
        aggregate_id: FromPath[UUID],
        streams: NamedDependency[Streams],
        from_version: Annotated[
            int, QueryParameter(ge=1, le=INT64_MAX, description="The first version to read")
        ] = 1,
        limit: Annotated[int, QueryParameter(ge=1, le=500, description="At most 500")] = 100,
    ) -> StreamPage:
        """Stored events of one aggregate, oldest first; ``next`` is the next from_version."""
        events = await anyio.to_thread.run_sync(
            streams.read, request.user.tenant_id, aggregate_id, from_version, limit
        )
        items = [
            StoredEventOut(e.position, e.version, e.type, e.data, e.metadata, e.recorded_at)
            for e in events
        ]
        next_version = str(items[-1].version + 1) if len(items) == limit else None
        return StreamPage(items=items, next=next_version)

    @get("/{aggregate_id:uuid}/state", guards=[requires("read")], operation_id="getStreamState")
    async def state(
        self,
        request: Request[Principal, Any, Any],
        aggregate_id: FromPath[UUID],
        streams: NamedDependency[Streams],
        version: Annotated[int | None, QueryParameter(ge=1, le=INT64_MAX)] = None,
        as_of: Annotated[datetime | None, QueryParameter(description="RFC 3339 time")] = None,
    ) -> StateOut:
        """The aggregate's state as of a version or a time (latest by default; with both,
        the version as it stood then), and the events that led there.
        """
        found = await anyio.to_thread.run_sync(
            streams.state_at, request.user.tenant_id, aggregate_id, version, as_of
        )
        return StateOut(
            id=found.aggregate_id,
            type=found.kind,
            version=found.version,
            state=msgspec.to_builtins(found.state),
            events=[
                EventSummary(e.position, e.version, e.type, e.recorded_at) for e in found.events
            ],
        )
