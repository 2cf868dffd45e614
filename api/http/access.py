"""The request id and the access log: every HTTP answer carries ``X-Request-ID``, and each
request (each WebSocket connection, when it ends) is one ``chronicle.access`` line.

It wraps the app's whole ASGI handler, outside routing, so that unknown routes, 405s and
refusals get both too (Litestar's middleware runs only on a matched route). It runs on
every request: it keeps to a header scan, a clock and one log call.
"""

from __future__ import annotations

import random
import re
from time import perf_counter
from typing import Any

import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from infrastructure.logs import trace_ids
from infrastructure.request_latency import LATENCIES

HEADER = b"x-request-id"
VALID_REQUEST_ID = re.compile(rb"[\x21-\x7e]{1,200}")
# Requests that wait by design stay out of the process's `http_p95_ms`.
UNTIMED = ("/v1/live", "/v1/tasks/claim")
STARTS = frozenset({"http.response.start", "websocket.accept", "websocket.http.response.start"})
access = structlog.get_logger("chronicle.access")


def request_id_of(scope: Scope) -> bytes:
    """The client's ``X-Request-ID`` when it is 1 to 200 visible ASCII characters, else a
    new one (32 hex digits)."""
    for name, value in scope["headers"]:
        if name == HEADER:  # ASGI servers give header names in lower case
            if VALID_REQUEST_ID.fullmatch(value):
                return value
            break
    # Not a secret, only unique: the OS's random source costs a system call a request.
    return f"{random.getrandbits(128):032x}".encode()


class AccessLog:
    """The ASGI app ``app`` with a request id on each answer and an access line each."""

    __slots__ = ("app",)

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        http = scope["type"] == ScopeType.HTTP
        if not http and scope["type"] != ScopeType.WEBSOCKET:
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id.decode())
        status = 0
        # The server span (when tracing) may have ended when the line is written.
        traced: dict[str, str] = {}
        began = perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status, traced
            if message["type"] in STARTS:
                headers: Any = message.get("headers")
                if isinstance(headers, list):
                    headers.append((HEADER, request_id))
                else:
                    message["headers"] = [*(headers or ()), (HEADER, request_id)]  # type: ignore[typeddict-unknown-key]
                status = message.get("status", 101)  # type: ignore[assignment]
                traced = trace_ids()
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            # Nothing answered: the server answers 500 (HTTP) or refuses the handshake (403).
            path = scope.get("path_template") or scope["path"]
            duration_ms = (perf_counter() - began) * 1000
            if http and not path.startswith(UNTIMED):
                LATENCIES.record(duration_ms)
            access.info(
                "request",
                method=scope.get("method", "WEBSOCKET"),
                path=path,
                status=status or (500 if http else 403),
                duration_ms=round(duration_ms, 3),
                **traced,
            )
