"""Subscriptions to the live event stream over HTTP: Server-Sent Events and WebSocket,
each resumable from a position, each a subscriber of the process's live hub.

The tenant always comes from the API key; clients never reach NATS themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio.to_thread
import msgspec
from litestar import Controller, Request, WebSocket, get, websocket
from litestar.di import NamedDependency
from litestar.exceptions import ValidationException, WebSocketDisconnect
from litestar.params import HeaderParameter, QueryParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage

from api.http.auth import TOKEN_IN_URL, requires
from api.http.bodies import decode_body, invalid
from api.http.problems import problem_body, problem_for, problem_of
from application.context import Principal
from application.errors import Forbidden
from domain.people import Inbox
from domain.values import INT64_MAX
from infrastructure.live_hub import (
    Filter,
    InvalidFilter,
    LiveEvent,
    LiveHub,
    Resync,
    follow,
    within,
)
from infrastructure.metrics import LiveCounters

KEEPALIVE_SECONDS = 15.0
FIRST_FRAME_SECONDS = 10.0
RESYNC_CLOSE_CODE = 4000
POLICY_VIOLATION = 1008
SUBJECTS_MAX = 50
SUBJECT_MAX_CHARS = 200
SUBJECTS_QUERY_MAX_CHARS = 4096
SSE = LiveCounters.of("sse")
WEBSOCKET = LiveCounters.of("websocket")
# One filter: `*`, an event type, or category[.id|*[.Type|*]].
_TYPE = r"[A-Za-z_][A-Za-z0-9_]{0,99}"
_UUID = r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
_FILTER = (
    rf"(?:\*|{_TYPE}|(?:conversation|run|task|document|audit)"
    rf"(?:\.(?:\*|{_UUID})(?:\.(?:\*|{_TYPE}))?)?)"
)
SUBJECTS_PATTERN = rf"^(?:{_FILTER}(?: *, *{_FILTER})*)?$"

Cursor = Annotated[
    int | None,
    QueryParameter(
        ge=0,
        le=INT64_MAX,
        description="Resume after this position, at most the log's head (Last-Event-ID also"
        " works); none means from now",
    ),
]
Subjects = Annotated[
    str | None,
    QueryParameter(
        pattern=SUBJECTS_PATTERN,
        max_length=SUBJECTS_QUERY_MAX_CHARS,
        description="Comma-separated filters: conversation.<id>, conversation.*, run.*, an event"
        " type such as MessagePosted, or *",
    ),
]
LastEventId = Annotated[
    str | None,
    HeaderParameter(
        name="Last-Event-ID",
        pattern=r"^[0-9]{0,18}$",
        description="The id of the last event received: resume after it (wins over cursor)",
    ),
]


class Subscribe(msgspec.Struct, forbid_unknown_fields=True):
    """The first WebSocket frame."""

    cursor: Annotated[int, msgspec.Meta(ge=0, le=INT64_MAX)] | None = None
    subjects: Annotated[
        list[Annotated[str, msgspec.Meta(max_length=SUBJECT_MAX_CHARS)]],
        msgspec.Meta(max_length=SUBJECTS_MAX),
    ] = []


def parse_filters(subjects: list[str], source: str = "query") -> tuple[Filter, ...]:
    try:
        return tuple(Filter.parse(s) for s in subjects if s.strip())
    except InvalidFilter as error:
        raise invalid("subjects", str(error), source) from None


def allowed_filters(principal: Principal, filters: tuple[Filter, ...]) -> tuple[Filter, ...]:
    """An API key's filters as they are; a user token's narrowed to the conversations it
    names, its user's own channel (``user.<inbox>``) and the tenant's announcements
    (`Forbidden` when none of what was asked is among them)."""
    if principal.user_id is None:
        return filters
    inbox = str(Inbox.create_id(principal.tenant_id, principal.user_id))
    allowed: list[tuple[str, str | None]] = [("conversation", c) for c in principal.conversations]
    allowed += [("user", inbox), ("announcement", None)]
    narrowed = within(filters, allowed)
    if not narrowed:
        raise Forbidden("this token may follow none of the subjects asked for")
    return narrowed


def forbidden(error: Forbidden) -> dict[str, Any]:
    return problem_body(problem_for(error))


async def check_cursor(hub: LiveHub, cursor: int | None, field: str, source: str) -> None:
    """A cursor is a position this log has given: one beyond its head names no event, so
    a stream from it would wait for positions it may never see."""
    if cursor is not None and cursor > (head := await anyio.to_thread.run_sync(hub.events.head)):
        raise invalid(
            field, f"is beyond the log's head ({head}); resume from a position you received", source
        )


class LiveController(Controller):
    path = "/v1/live"
    tags = ["live"]

    @get("/", guards=[requires("live:read")], operation_id="followLive", opt={TOKEN_IN_URL: True})
    async def sse(
        self,
        request: Request[Principal, Any, Any],
        hub: NamedDependency[LiveHub],
        cursor: Cursor = None,
        subjects: Subjects = None,
        last_event_id: LastEventId = None,
    ) -> ServerSentEvent:
        """Every event the key's tenant may see after the cursor, then live, as SSE."""
        filters = allowed_filters(request.user, parse_filters((subjects or "").split(",")))
        start = int(last_event_id) if last_event_id else cursor
        await check_cursor(
            hub,
            start,
            "Last-Event-ID" if last_event_id else "cursor",
            "header" if last_event_id else "query",
        )
        tenant = request.user.tenant_id

        async def frames() -> AsyncIterator[ServerSentEventMessage]:
            items = follow(
                hub, tenant, filters, start, buffer=hub.buffer, keepalive=KEEPALIVE_SECONDS
            )
            with SSE.connections.track_inprogress():
                async for item in items:
                    if item is None:
                        yield ServerSentEventMessage(comment="keep-alive", data=None)
                        continue
                    if isinstance(item, Resync):
                        SSE.resyncs.inc()
                        body = msgspec.json.encode({"cursor": item.cursor}).decode()
                        yield ServerSentEventMessage(event="resync", id=str(item.cursor), data=body)
                        continue
                    SSE.delivered.inc()
                    if item.ephemeral:  # a delta: no id, so a resume never expects it again
                        yield ServerSentEventMessage(event=item.type, data=item.payload.decode())
                    else:
                        yield ServerSentEventMessage(
                            event=item.type, id=str(item.position), data=item.payload.decode()
                        )

        return ServerSentEvent(
            frames(), headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        )


@websocket("/v1/live/ws", guards=[requires("live:read")], opt={TOKEN_IN_URL: True})
async def live_websocket(
    socket: WebSocket[Principal, Any, Any], hub: NamedDependency[LiveHub]
) -> None:
    """Same as /v1/live over WebSocket: first frame ``{"cursor": N, "subjects": [...]}``.

    A first frame that is late or invalid is answered with a problem+json frame (status
    400, its ``errors`` naming the field) and the close code 1008; one asking a user
    token for subjects it does not allow, with a 403 frame and the same code.
    """
    await socket.accept()
    try:
        try:
            raw = await asyncio.wait_for(socket.receive_data(mode="text"), FIRST_FRAME_SECONDS)
        except TimeoutError:
            raise invalid(
                "body", f"send the first frame within {FIRST_FRAME_SECONDS:g} s"
            ) from None
        request = decode_body(raw, Subscribe)
        filters = allowed_filters(socket.user, parse_filters(request.subjects, "body"))
        await check_cursor(hub, request.cursor, "cursor", "body")
    except (ValidationException, Forbidden) as error:
        body = problem_of(error) if isinstance(error, ValidationException) else forbidden(error)
        await socket.send_data(msgspec.json.encode(body).decode(), mode="text")
        await socket.close(code=POLICY_VIOLATION)
        return
    except WebSocketDisconnect:
        return
    events = follow(
        hub,
        socket.user.tenant_id,
        filters,
        request.cursor,
        buffer=hub.buffer,
        keepalive=KEEPALIVE_SECONDS,
    )
    closed = asyncio.ensure_future(_closed(socket))
    WEBSOCKET.connections.inc()
    try:
        async for item in events:
            if closed.done():
                return
            if isinstance(item, LiveEvent):
                await socket.send_data(item.payload.decode(), mode="text")
                WEBSOCKET.delivered.inc()
            elif isinstance(item, Resync):
                WEBSOCKET.resyncs.inc()
                await socket.send_json({"type": "resync", "cursor": item.cursor})
                await socket.close(code=RESYNC_CLOSE_CODE)
                return
    except WebSocketDisconnect:
        return
    finally:
        WEBSOCKET.connections.dec()
        closed.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await closed
        await events.aclose()  # type: ignore[attr-defined]


async def _closed(socket: WebSocket[Any, Any, Any]) -> None:
    """Completes when the client goes away (reads and ignores anything it sends)."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await socket.receive_data(mode="text")
