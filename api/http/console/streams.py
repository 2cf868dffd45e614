"""The console's live parts: Server-Sent Events whose data are HTML fragments rendered
(and escaped) here, for the page's script to insert.

Each stream follows the process's live hub like ``/v1/live`` does, under the same caps,
and resumes after ``Last-Event-ID`` when the browser reconnects.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from functools import partial
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, get
from litestar.background_tasks import BackgroundTask
from litestar.di import NamedDependency
from litestar.params import FromPath, HeaderParameter, QueryParameter
from litestar.response import ServerSentEventMessage

from api.bootstrap import Container
from api.http.console.pages import EventType, Text, filters_of, overview_of
from api.http.console.render import fragment
from api.http.console.viewer import SCOPE, NotSignedIn, Viewer, provide_sessions, signed_in
from api.http.event_stream import EventStream
from api.http.reads import ReadModels
from api.http.subscriptions import check_cursor, hold, let_go, parse_filters
from application.budgets import Budgets
from domain.values import INT64_MAX
from infrastructure.live_hub import Filter, LiveEvent, LiveHub, Resync, follow
from infrastructure.live_limits import LiveLimits
from infrastructure.read_models import Conn
from infrastructure.signals import Signals
from projections.messages import MessageRow, message_history

BATCH = 200
KEEPALIVE_SECONDS = 5.0  # also how soon a quiet stream of a revoked key ends
RECHECK_SECONDS = 1.0
BUSY_SECONDS, QUIET_SECONDS, IDLE_SECONDS = 1.0, 1.0, 10.0  # the overview's refreshes
DATA_SHOWN_CHARS = 2000
After = Annotated[int | None, QueryParameter(ge=0, le=INT64_MAX)]
LastEventId = Annotated[str | None, HeaderParameter(name="Last-Event-ID", pattern=r"^[0-9]{0,18}$")]
KEEPALIVE = ServerSentEventMessage(comment="keep-alive", data=None)


class TailEvent(msgspec.Struct):
    """The parts of a CloudEvent the live tail shows."""

    id: str
    type: str
    subject: str = ""
    time: str = ""
    data: Any = None


def tail_row(event: LiveEvent) -> str:
    """One row of the live tail: the event's position, time, type, subject and data."""
    cloud = msgspec.json.decode(event.payload, type=TailEvent)
    data = msgspec.json.encode(cloud.data).decode()
    if len(data) > DATA_SHOWN_CHARS:
        data = data[:DATA_SHOWN_CHARS] + "…"
    return fragment("_event.html", event=event, cloud=cloud, data=data)


async def streamed(
    request: Request[Any, Any, Any],
    viewer: Viewer,
    frames: AsyncIterator[ServerSentEventMessage],
    live_limits: LiveLimits,
    signals: Signals,
) -> EventStream:
    """``frames`` as a live stream held under the live caps, ending once its session no
    longer holds (signed out, expired, or its key revoked: checked at most each second,
    at each frame; a quiet stream sends a keep-alive every `KEEPALIVE_SECONDS`)."""
    principal = viewer.principal
    held, _ = await hold(live_limits, signals, principal, "sse")
    container: Container = request.app.state.container
    assert container.connections is not None
    sessions = provide_sessions(container, container.connections)

    async def checked() -> AsyncIterator[ServerSentEventMessage]:
        checked_at = time.monotonic()
        async with contextlib.aclosing(frames):  # type: ignore[type-var]
            async for frame in frames:
                if time.monotonic() - checked_at >= RECHECK_SECONDS:
                    try:
                        await signed_in(request, sessions)
                    except NotSignedIn:
                        return
                    checked_at = time.monotonic()
                yield frame

    return EventStream(
        checked(),
        headers={"Cache-Control": "no-store"},
        background=BackgroundTask(let_go, live_limits, signals, principal, held),
    )


def _newer(tenant: str, conversation_id: UUID, after: int | None, conn: Conn) -> list[MessageRow]:
    return message_history(conn, tenant, conversation_id, after, BATCH)[0]


class StreamsController(Controller):
    path = "/console"

    @get("/overview/stream", opt={SCOPE: "read"})
    async def overview(
        self,
        request: Request[Any, Any, Any],
        viewer: NamedDependency[Viewer],
        container: NamedDependency[Container],
        hub: NamedDependency[LiveHub],
        read_models: NamedDependency[ReadModels],
        budgets: NamedDependency[Budgets],
        live_limits: NamedDependency[LiveLimits],
        signals: NamedDependency[Signals],
    ) -> EventStream:
        """The overview again, whole: at most each second while the tenant's events arrive
        (once the read models show them), and every ten seconds anyway (for the lag)."""
        tenant = viewer.principal.tenant_id

        async def frames() -> AsyncIterator[ServerSentEventMessage]:
            items = follow(hub, tenant, (), None, buffer=hub.buffer, keepalive=QUIET_SECONDS)
            shown_at, seen = time.monotonic(), None
            async for item in items:
                if isinstance(item, Resync):
                    return  # the browser reconnects, from now
                if isinstance(item, LiveEvent) and not item.ephemeral:
                    seen = item.position
                waited = time.monotonic() - shown_at
                if (seen is not None and waited >= BUSY_SECONDS) or waited >= IDLE_SECONDS:
                    context = await overview_of(viewer, container, read_models, budgets, seen)
                    shown_at, seen = time.monotonic(), None
                    yield ServerSentEventMessage(
                        event="replace", data=fragment("_overview.html", **context)
                    )
                elif item is None:
                    yield KEEPALIVE

        return await streamed(request, viewer, frames(), live_limits, signals)

    @get("/conversations/{conversation_id:uuid}/stream", opt={SCOPE: "read"})
    async def conversation(
        self,
        request: Request[Any, Any, Any],
        viewer: NamedDependency[Viewer],
        conversation_id: FromPath[UUID],
        hub: NamedDependency[LiveHub],
        read_models: NamedDependency[ReadModels],
        live_limits: NamedDependency[LiveLimits],
        signals: NamedDependency[Signals],
        after: After = None,
        last_event_id: LastEventId = None,
    ) -> EventStream:
        """New messages of a conversation, as list items to append, from ``after`` (the
        position its page was read at) or the last one the browser received."""
        tenant = viewer.principal.tenant_id
        start = int(last_event_id) if last_event_id else after
        await check_cursor(hub, start, "after", "query")
        wanted = (Filter("conversation", str(conversation_id)),)

        async def frames() -> AsyncIterator[ServerSentEventMessage]:
            shown = start
            items = follow(
                hub, tenant, wanted, start, buffer=hub.buffer, keepalive=KEEPALIVE_SECONDS
            )
            async for item in items:
                if item is None:
                    yield KEEPALIVE
                if not isinstance(item, LiveEvent) or item.ephemeral:
                    continue  # a resync ends the stream: the browser reconnects after `shown`
                newer = partial(_newer, tenant, conversation_id, shown)
                rows, _ = await read_models.query(("messages",), newer, item.position)
                if rows:
                    shown = rows[-1].position
                    html = fragment("_messages.html", messages=rows)
                    yield ServerSentEventMessage(event="append", id=str(shown), data=html)

        return await streamed(request, viewer, frames(), live_limits, signals)

    @get("/live/stream", opt={SCOPE: "live:read"})
    async def tail(
        self,
        request: Request[Any, Any, Any],
        viewer: NamedDependency[Viewer],
        hub: NamedDependency[LiveHub],
        live_limits: NamedDependency[LiveLimits],
        signals: NamedDependency[Signals],
        subjects: Text = None,
        event_type: EventType = None,
        last_event_id: LastEventId = None,
    ) -> EventStream:
        """Events of the tenant from now (or after ``Last-Event-ID``), as table rows to
        put on top, filtered as the live page's form says."""
        filters = parse_filters(filters_of(subjects, event_type))
        start = int(last_event_id) if last_event_id else None
        await check_cursor(hub, start, "Last-Event-ID", "header")
        tenant = viewer.principal.tenant_id

        async def frames() -> AsyncIterator[ServerSentEventMessage]:
            items = follow(
                hub, tenant, filters, start, buffer=hub.buffer, keepalive=KEEPALIVE_SECONDS
            )
            async for item in items:
                if item is None:
                    yield KEEPALIVE
                elif isinstance(item, Resync):
                    yield ServerSentEventMessage(event="resync", data=str(item.cursor))
                elif not item.ephemeral:
                    yield ServerSentEventMessage(
                        event="prepend", id=str(item.position), data=tail_row(item)
                    )

        return await streamed(request, viewer, frames(), live_limits, signals)
