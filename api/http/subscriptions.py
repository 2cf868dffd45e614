"""Subscriptions to the live event stream over HTTP: Server-Sent Events and WebSocket,
each resumable from a position, each a subscriber of the process's live hub.

The tenant always comes from the API key; clients never reach NATS themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio.to_thread
import msgspec
from litestar import Controller, Request, WebSocket, get, websocket
from litestar.background_tasks import BackgroundTask
from litestar.di import NamedDependency
from litestar.exceptions import ValidationException, WebSocketDisconnect
from litestar.params import HeaderParameter, QueryParameter
from litestar.response import ServerSentEventMessage

from api.http.auth import TOKEN_IN_URL, requires
from api.http.bodies import decode_body, invalid
from api.http.event_stream import EventStream
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
from infrastructure.live_limits import Connection, LiveConnectionsExceeded, LiveLimits
from infrastructure.metrics import LIVE_REFUSED, LiveCounters
from infrastructure.signals import Signals

KEEPALIVE_SECONDS = 15.0
FIRST_FRAME_SECONDS = 10.0
RESYNC_CLOSE_CODE = 4000
POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013  # over a cap on concurrent live connections
SUBJECTS_MAX = 50
SUBJECT_MAX_CHARS = 200
SUBJECTS_QUERY_MAX_CHARS = 4096
SSE = LiveCounters.of("sse")
WEBSOCKET = LiveCounters.of("websocket")
# One filter: `*`, an event type, or category[.id|*[.Type|*]].
_TYPE = r"[A-Za-z_][A-Za-z0-9_]{0,99}"
_UUID = r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
_FILTER = (
    rf"(?:\*|{_TYPE}|(?:conversation|run|task|document|audit|alert)"
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
    """An API key's filters as they are; a user token's narrowed to the conversations and
    documents it names, its user's own channel (``user.<inbox>``) and the tenant's
    announcements (`Forbidden` when none of what was asked is among them)."""
    if principal.user_id is None:
        return filters
    inbox = str(Inbox.create_id(principal.tenant_id, principal.user_id))
    allowed: list[tuple[str, str | None]] = [("conversation", c) for c in principal.conversations]
    allowed += [("document", d) for d in principal.documents]
    allowed += [("user", inbox), ("announcement", None)]
    narrowed = within(filters, allowed)
    if not narrowed:
        raise Forbidden("this token may follow none of the subjects asked for")
    return narrowed


async def hold(
    limits: LiveLimits, signals: Signals, principal: Principal, transport: str
) -> tuple[Connection, tuple[str, ...]]:
    """Admit a live connection under its caps; a user's makes the user present in the
    conversations its token names, and says so to those who follow them. The ids of
    those signals come with it: see `own_arrival`."""
    user = principal.user_id
    key = None if user is not None else principal.key_id
    present_in = principal.conversations if user is not None else frozenset()
    held = await limits.admit(principal.tenant_id, key, user, transport, present_in)
    arrivals = [
        await signals.presence(principal.tenant_id, conversation, user or "", online=True)
        for conversation in sorted(present_in)
    ]
    return held, tuple(a for a in arrivals if a is not None)


class SignalId(msgspec.Struct):
    id: str = ""


def own_arrival(item: LiveEvent, arrivals: tuple[str, ...]) -> bool:
    """Whether ``item`` tells of this connection's own arrival. It reaches the hub before
    or after the connection follows, depending on timing, so it is never sent."""
    return (
        bool(arrivals)
        and item.type == "presence"
        and msgspec.json.decode(item.payload, type=SignalId).id in arrivals
    )


async def let_go(
    limits: LiveLimits, signals: Signals, principal: Principal, held: Connection
) -> None:
    """Release a live connection (once); a user no longer present in a conversation (no
    other connection of the user there, on any process) is said to have left it."""
    if not await limits.release(held):
        return
    user = principal.user_id
    if user is None:
        return
    for conversation in sorted(principal.conversations):
        with contextlib.suppress(Exception):  # the lease lapses; GET presence agrees
            if user not in await limits.present(principal.tenant_id, conversation):
                await signals.presence(principal.tenant_id, conversation, user, online=False)


def forbidden(error: Forbidden) -> dict[str, Any]:
    return problem_body(problem_for(error))


async def check_cursor(hub: LiveHub, cursor: int | None, field: str, source: str) -> None:
    """A cursor is a position this log has given: one beyond its head names no event, so
    a stream from it would wait for positions it may never see."""
    if cursor is not None and cursor > (head := await anyio.to_thread.run_sync(hub.events.head)):
        raise invalid(
            field, f"is beyond the log's head ({head}); resume from a position you received", source
        )


class CapsOut(msgspec.Struct):
    per_tenant: int
    per_key: int
    per_user: int
    frames_per_second: int


class LiveStatsOut(msgspec.Struct):
    connections: int
    by_transport: dict[str, int]
    by_user: dict[str, int]
    delivered: int
    resyncs: int
    caps: CapsOut


class LiveController(Controller):
    path = "/v1/live"
    tags = ["live"]

    @get("/stats", guards=[requires("admin")], operation_id="liveStats")
    async def stats(
        self, request: Request[Principal, Any, Any], live_limits: NamedDependency[LiveLimits]
    ) -> LiveStatsOut:
        """The tenant's live connections now, across every API process (by transport and
        by user), and the events delivered and resyncs (slow clients dropped) so far."""
        stats = await live_limits.stats(request.user.tenant_id)
        caps = live_limits.caps
        return LiveStatsOut(
            stats.connections,
            stats.by_transport,
            stats.by_user,
            stats.delivered,
            stats.resyncs,
            CapsOut(caps.per_tenant, caps.per_key, caps.per_user, caps.frames_per_second),
        )

    @get("/", guards=[requires("live:read")], operation_id="followLive", opt={TOKEN_IN_URL: True})
    async def sse(
        self,
        request: Request[Principal, Any, Any],
        hub: NamedDependency[LiveHub],
        live_limits: NamedDependency[LiveLimits],
        signals: NamedDependency[Signals],
        cursor: Cursor = None,
        subjects: Subjects = None,
        last_event_id: LastEventId = None,
    ) -> EventStream:
        """Every event the key's tenant may see after the cursor, then live, as SSE;
        `429` over a cap on concurrent live connections."""
        filters = allowed_filters(request.user, parse_filters((subjects or "").split(",")))
        start = int(last_event_id) if last_event_id else cursor
        await check_cursor(
            hub,
            start,
            "Last-Event-ID" if last_event_id else "cursor",
            "header" if last_event_id else "query",
        )
        tenant = request.user.tenant_id
        principal = request.user
        held, arrivals = await hold(live_limits, signals, principal, "sse")

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
                        live_limits.resynced(tenant)
                        body = msgspec.json.encode({"cursor": item.cursor}).decode()
                        yield ServerSentEventMessage(event="resync", id=str(item.cursor), data=body)
                        continue
                    if item.ephemeral and own_arrival(item, arrivals):
                        continue
                    SSE.delivered.inc()
                    live_limits.delivered(tenant)
                    if item.ephemeral:  # a delta: no id, so a resume never expects it
                        yield ServerSentEventMessage(event=item.type, data=item.payload.decode())
                    else:
                        yield ServerSentEventMessage(
                            event=item.type, id=str(item.position), data=item.payload.decode()
                        )

        # Let go when the response ends, however it ends: a client that goes away cancels
        # the stream, and a stream's own cleanup would then be cancelled with it.
        return EventStream(
            frames(),
            headers={"Cache-Control": "no-store"},
            background=BackgroundTask(let_go, live_limits, signals, principal, held),
        )


@websocket("/v1/live/ws", guards=[requires("live:read")], opt={TOKEN_IN_URL: True})
async def live_websocket(
    socket: WebSocket[Principal, Any, Any],
    hub: NamedDependency[LiveHub],
    live_limits: NamedDependency[LiveLimits],
    signals: NamedDependency[Signals],
) -> None:
    """Same as /v1/live over WebSocket: first frame ``{"cursor": N, "subjects": [...]}``.

    A first frame that is late or invalid is answered with a problem+json frame (status
    400, its ``errors`` naming the field) and the close code 1008; one asking a user
    token for subjects it does not allow, with a 403 frame and the same code. Over a cap
    on concurrent live connections: a 429 frame and the close code 1013 (try again
    later). A client sending frames faster than ``CHRONICLE_LIVE_FRAMES_PER_SECOND`` is
    closed with 1008.
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
    try:
        held, arrivals = await hold(live_limits, signals, socket.user, "websocket")
    except LiveConnectionsExceeded as error:
        await socket.send_data(msgspec.json.encode(too_many(error)).decode(), mode="text")
        await socket.close(code=TRY_AGAIN_LATER)
        return
    events = follow(
        hub,
        socket.user.tenant_id,
        filters,
        request.cursor,
        buffer=hub.buffer,
        keepalive=KEEPALIVE_SECONDS,
    )
    closed = asyncio.ensure_future(_closed(socket, live_limits.caps.frames_per_second, signals))
    # Forwarding runs beside the reader of the client's frames, so a client that goes away
    # is let go at once, not at the next event or keep-alive.
    forwarding = asyncio.ensure_future(_forward(socket, events, live_limits, arrivals))
    WEBSOCKET.connections.inc()
    try:
        await asyncio.wait((closed, forwarding), return_when=asyncio.FIRST_COMPLETED)
    finally:
        WEBSOCKET.connections.dec()
        for task in (forwarding, closed):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await events.aclose()  # type: ignore[attr-defined]
        await let_go(live_limits, signals, socket.user, held)


async def _forward(
    socket: WebSocket[Principal, Any, Any],
    events: AsyncIterator[LiveEvent | Resync | None],
    live_limits: LiveLimits,
    arrivals: tuple[str, ...],
) -> None:
    """Send what the live stream yields, until it ends, the client goes, or a resync."""
    tenant = socket.user.tenant_id
    with contextlib.suppress(WebSocketDisconnect):
        async for item in events:
            if isinstance(item, LiveEvent):
                if item.ephemeral and own_arrival(item, arrivals):
                    continue
                await socket.send_data(item.payload.decode(), mode="text")
                WEBSOCKET.delivered.inc()
                live_limits.delivered(tenant)
            elif isinstance(item, Resync):
                WEBSOCKET.resyncs.inc()
                live_limits.resynced(tenant)
                await socket.send_json({"type": "resync", "cursor": item.cursor})
                await socket.close(code=RESYNC_CLOSE_CODE)
                return


async def _closed(
    socket: WebSocket[Principal, Any, Any], per_second: int, signals: Signals
) -> None:
    """Completes when the client goes away, or closes it with 1008 when it sends more
    than ``per_second`` frames in a second. A user token with ``presence:write`` may send
    ``{"type": "typing", "conversation_id": ...}`` for a conversation it names; any other
    frame is ignored."""
    window, count = 0, 0
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            frame = await socket.receive_data(mode="text")
            await _typing_frame(socket.user, signals, frame)
            now = int(time.monotonic())
            window, count = (window, count + 1) if now == window else (now, 1)
            if per_second and count > per_second:
                LIVE_REFUSED.labels("frames").inc()
                await socket.close(code=POLICY_VIOLATION, reason="frames too fast")
                return


class TypingFrame(msgspec.Struct):
    type: str
    conversation_id: str = ""


async def _typing_frame(principal: Principal, signals: Signals, frame: str | bytes) -> None:
    try:
        typing = msgspec.json.decode(frame, type=TypingFrame)
    except msgspec.DecodeError:
        return
    user = principal.user_id
    if (
        typing.type == "typing"
        and user is not None
        and "presence:write" in principal.scopes
        and typing.conversation_id in principal.conversations
    ):
        await signals.typing(principal.tenant_id, typing.conversation_id, user)


def too_many(error: LiveConnectionsExceeded) -> dict[str, Any]:
    return problem_body(problem_for(error))
