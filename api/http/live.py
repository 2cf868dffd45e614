"""Live event streams: Server-Sent Events and WebSocket, resumable from a position.

The tenant always comes from the API key; clients never reach NATS themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, WebSocket, get, websocket
from litestar.exceptions import ValidationException, WebSocketDisconnect
from litestar.params import QueryParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage

from api.http.auth import requires
from application.context import Principal
from infrastructure.live import Filter, InvalidFilter, LiveEvent, LiveHub, Resync, follow

KEEPALIVE_SECONDS = 15.0
FIRST_FRAME_SECONDS = 10.0
RESYNC_CLOSE_CODE = 4000

Cursor = Annotated[
    int | None,
    QueryParameter(ge=0, description="Resume after this position (Last-Event-ID also works)"),
]
Subjects = Annotated[
    str | None,
    QueryParameter(
        description="Comma-separated filters: conversation.<id>, conversation.*, run.*, an event"
        " type such as MessagePosted, or *"
    ),
]


class Subscribe(msgspec.Struct, forbid_unknown_fields=True):
    """The first WebSocket frame."""

    cursor: int | None = None
    subjects: list[str] = []


def parse_filters(subjects: list[str]) -> tuple[Filter, ...]:
    try:
        return tuple(Filter.parse(s) for s in subjects if s.strip())
    except InvalidFilter as error:
        raise ValidationException(
            detail=str(error),
            extra=[{"key": "subjects", "message": str(error), "source": "query"}],
        ) from None


def last_event_id(request: Request[Any, Any, Any], cursor: int | None) -> int | None:
    raw = request.headers.get("last-event-id")
    if raw is None or raw.strip() == "":
        return cursor
    if not raw.strip().isdigit():
        raise ValidationException(
            detail="invalid Last-Event-ID",
            extra=[{"key": "Last-Event-ID", "message": "must be a position", "source": "header"}],
        )
    return int(raw.strip())


class LiveController(Controller):
    path = "/v1/live"
    tags = ["live"]

    @get("/", guards=[requires("live:read")])
    async def sse(
        self,
        request: Request[Principal, Any, Any],
        cursor: Cursor = None,
        subjects: Subjects = None,
    ) -> ServerSentEvent:
        """Every event the key's tenant may see after the cursor, then live, as SSE."""
        filters = parse_filters((subjects or "").split(","))
        start = last_event_id(request, cursor)
        hub: LiveHub = request.app.state.hub
        tenant = request.user.tenant_id
        buffer = request.app.state.container.settings.live_buffer

        async def frames() -> AsyncIterator[ServerSentEventMessage]:
            items = follow(hub, tenant, filters, start, buffer=buffer, keepalive=KEEPALIVE_SECONDS)
            async for item in items:
                if item is None:
                    yield ServerSentEventMessage(comment="keep-alive", data=None)
                elif isinstance(item, Resync):
                    body = msgspec.json.encode({"cursor": item.cursor}).decode()
                    yield ServerSentEventMessage(event="resync", id=str(item.cursor), data=body)
                elif item.ephemeral:  # a delta: no id, so a resume never expects it again
                    yield ServerSentEventMessage(event=item.type, data=item.payload.decode())
                else:
                    yield ServerSentEventMessage(
                        event=item.type, id=str(item.position), data=item.payload.decode()
                    )

        return ServerSentEvent(
            frames(), headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        )


@websocket("/v1/live/ws", guards=[requires("live:read")])
async def live_websocket(socket: WebSocket[Principal, Any, Any]) -> None:
    """Same as /v1/live over WebSocket: first frame ``{"cursor": N, "subjects": [...]}``."""
    await socket.accept()
    try:
        raw = await asyncio.wait_for(socket.receive_data(mode="text"), FIRST_FRAME_SECONDS)
        request = msgspec.json.decode(raw, type=Subscribe)
        filters = tuple(Filter.parse(s) for s in request.subjects)
    except (TimeoutError, msgspec.ValidationError, msgspec.DecodeError, InvalidFilter) as error:
        await socket.send_json({"type": "error", "detail": f"bad first frame: {error}"})
        await socket.close(code=1008)
        return
    except WebSocketDisconnect:
        return
    hub: LiveHub = socket.app.state.hub
    buffer = socket.app.state.container.settings.live_buffer
    events = follow(
        hub,
        socket.user.tenant_id,
        filters,
        request.cursor,
        buffer=buffer,
        keepalive=KEEPALIVE_SECONDS,
    )
    closed = asyncio.ensure_future(_closed(socket))
    try:
        async for item in events:
            if closed.done():
                return
            if isinstance(item, LiveEvent):
                await socket.send_data(item.payload.decode(), mode="text")
            elif isinstance(item, Resync):
                await socket.send_json({"type": "resync", "cursor": item.cursor})
                await socket.close(code=RESYNC_CLOSE_CODE)
                return
    except WebSocketDisconnect:
        return
    finally:
        closed.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await closed
        await events.aclose()  # type: ignore[attr-defined]


async def _closed(socket: WebSocket[Any, Any, Any]) -> None:
    """Completes when the client goes away (reads and ignores anything it sends)."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await socket.receive_data(mode="text")
