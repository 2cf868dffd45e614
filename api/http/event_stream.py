"""A Server-Sent Events answer that costs an open stream little: its frames are sent from
the request's own task, beside one small task that waits for the client to go away.

Litestar's `ServerSentEvent` runs its frames through a worker thread, two generators
and an anyio task group (a task, a cancel scope and their events) for as long as the
stream is open. It must not buffer: each frame is sent as it comes.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any

from litestar.response import ServerSentEventMessage
from litestar.response.base import ASGIResponse
from litestar.response.streaming import ASGIStreamingResponse, Stream
from litestar.types import HTTPResponseBodyEvent, Receive, Send

if TYPE_CHECKING:
    from litestar import Litestar, Request
    from litestar.background_tasks import BackgroundTask, BackgroundTasks
    from litestar.datastructures import Cookie
    from litestar.enums import MediaType
    from litestar.types import TypeEncodersMap

MEDIA_TYPE = "text/event-stream"


class EventStream(Stream):
    """``frames`` as a ``text/event-stream`` answer; its background runs once the frames
    end or the client goes away (the frames are closed first)."""

    def __init__(
        self,
        frames: AsyncIterator[ServerSentEventMessage],
        *,
        headers: dict[str, str] | None = None,
        background: BackgroundTask | BackgroundTasks | None = None,
    ) -> None:
        # Messages, not the bytes a `Stream` holds: `_EventStreamBody` encodes them.
        content: Any = frames
        super().__init__(content, media_type=MEDIA_TYPE, headers=headers, background=background)
        self.headers.setdefault("Cache-Control", "no-cache")
        self.headers["Connection"] = "keep-alive"
        self.headers["X-Accel-Buffering"] = "no"

    def to_asgi_response(
        self,
        app: Litestar | None,
        request: Request[Any, Any, Any],
        *,
        background: BackgroundTask | BackgroundTasks | None = None,
        cookies: Iterable[Cookie] | None = None,
        encoded_headers: Iterable[tuple[bytes, bytes]] | None = None,
        headers: dict[str, str] | None = None,
        is_head_response: bool = False,
        media_type: MediaType | str | None = None,
        status_code: int | None = None,
        type_encoders: TypeEncodersMap | None = None,
    ) -> ASGIResponse:
        return _EventStreamBody(
            background=self.background or background,
            content_length=0,
            cookies=self.cookies if cookies is None else itertools.chain(self.cookies, cookies),
            encoded_headers=encoded_headers,
            encoding=self.encoding,
            headers={**headers, **self.headers} if headers is not None else self.headers,
            is_head_response=is_head_response,
            iterator=self.iterator,  # type: ignore[arg-type]  # the messages of __init__
            media_type=MEDIA_TYPE,
            status_code=self.status_code or status_code,
        )


class _EventStreamBody(ASGIStreamingResponse):
    __slots__ = ()

    async def send_body(self, send: Send, receive: Receive) -> None:
        """Send each frame until the frames end, or until the client goes away: then the
        frames are cancelled where they wait, and this returns, so the background runs."""
        frames: Any = self.iterator
        streaming = asyncio.current_task()
        assert streaming is not None
        sending = True

        def client_gone(watcher: asyncio.Task[None]) -> None:
            if not watcher.cancelled():
                watcher.exception()  # retrieved: a receive that failed is a client gone too
                if sending:
                    streaming.cancel()

        watcher = asyncio.ensure_future(_disconnected(receive))
        watcher.add_done_callback(client_gone)
        try:
            async for frame in frames:
                await send(_body(frame.encode(), more=True))
            await send(_body(b"", more=False))
        except asyncio.CancelledError:
            # Cancelled by the watcher: the client went; by anything else: pass it on.
            gone = watcher.done() and not watcher.cancelled()
            if not gone or streaming.uncancel() > 0:
                raise
        finally:
            sending = False
            watcher.cancel()
            await frames.aclose()


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _body(chunk: bytes, *, more: bool) -> HTTPResponseBodyEvent:
    return {"type": "http.response.body", "body": chunk, "more_body": more}
