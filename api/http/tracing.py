"""Server spans for HTTP requests and WebSocket sessions, when this process traces.

A span per request on a matched route, named ``<method> <route>`` with the stable HTTP
semantic conventions' attributes, continuing an incoming ``traceparent``; the answer
carries the ``traceparent`` of that span, so a client can find its request in the trace
backend. It is Chronicle's own rather than the ASGI instrumentation (which Litestar's
OpenTelemetry plugin wraps): that one collected a dozen attributes, recorded metrics and
wrapped ``receive`` for every request, and cost half of the traced API's throughput
where this costs the span (docs/decisions/0023).
"""

from __future__ import annotations

from typing import Any

from litestar.enums import ScopeType
from litestar.middleware.base import DefineMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from opentelemetry.trace import SpanKind, Status, StatusCode

from infrastructure import tracing

STARTS = frozenset({"http.response.start", "websocket.accept", "websocket.http.response.start"})
TRACEPARENT = b"traceparent"
# Probes and scrapes, every few seconds from every orchestrator: not worth a trace each.
UNTRACED = frozenset({"/healthz", "/readyz", "/metrics"})


def server_spans() -> list[DefineMiddleware]:
    """The middleware making a server span per request; none when tracing is off."""
    return [DefineMiddleware(ServerSpans)] if tracing.enabled() else []


class ServerSpans:
    """ASGI middleware: the request in a server span of the ``api`` role's tracer."""

    __slots__ = ("app",)

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if (kind != ScopeType.HTTP and kind != ScopeType.WEBSOCKET) or scope["path"] in UNTRACED:
            await self.app(scope, receive, send)
            return
        method: str = scope.get("method", "GET")  # type: ignore[assignment]
        route = scope.get("path_template") or scope["path"]
        incoming = next((v for k, v in scope["headers"] if k == TRACEPARENT), None)
        with tracing.tracer("api").start_as_current_span(
            f"{method} {route}",
            context=tracing.context_of(incoming.decode("latin-1")) if incoming else None,
            kind=SpanKind.SERVER,
            attributes={
                "http.request.method": method,
                "http.route": route,
                "url.path": scope["path"],
                "url.scheme": scope.get("scheme", "http"),
            },
        ) as span:
            answer = (TRACEPARENT, (tracing.traceparent_of(span) or "").encode())

            async def send_traced(message: Message) -> None:
                if message["type"] in STARTS:
                    status: int = message.get("status", 101)  # type: ignore[assignment]
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(Status(StatusCode.ERROR))
                        span.set_attribute("error.type", str(status))
                    headers: Any = message.get("headers")
                    if isinstance(headers, list):
                        headers.append(answer)
                    else:
                        message["headers"] = [*(headers or ()), answer]  # type: ignore[typeddict-unknown-key]
                await send(message)

            await self.app(scope, receive, send_traced)
