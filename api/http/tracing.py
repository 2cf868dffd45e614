"""Server spans for HTTP requests and WebSocket sessions, when this process traces.

Litestar's OpenTelemetry middleware (the ASGI instrumentation) makes the span, continuing
an incoming ``traceparent``; every answer then carries the ``traceparent`` of that span,
so a client can find its request in the trace backend.
"""

from __future__ import annotations

from litestar.datastructures import MutableScopeHeaders
from litestar.middleware.base import DefineMiddleware
from litestar.plugins.opentelemetry import OpenTelemetryConfig
from litestar.types import Message, Scope
from opentelemetry import trace

from infrastructure import tracing


def server_spans() -> list[DefineMiddleware]:
    """The middleware making a server span per request; none when tracing is off."""
    provider = tracing.provider("api")
    if provider is None:
        return []
    config = OpenTelemetryConfig(tracer_provider=provider, exclude_spans=["receive", "send"])
    return [config.middleware]


async def echo_traceparent(message: Message, scope: Scope) -> None:
    """Name the server span in the answer's ``traceparent`` (a ``before_send`` hook)."""
    if message["type"] != "http.response.start" or not tracing.enabled():
        return
    if traceparent := tracing.traceparent_of(trace.get_current_span()):
        MutableScopeHeaders.from_message(message)["traceparent"] = traceparent
