"""WebSocket handshakes refused the way HTTP requests are: a missing or wrong key is 401,
a missing scope 403, each with its problem+json body.

Litestar answers an exception raised before the socket is accepted by closing it, and
the server then refuses the handshake with a bare 403 whatever the reason. Here such an
exception is answered with a real HTTP response instead, where the ASGI server offers
the ``websocket.http.response`` extension (uvicorn does): one raised by authentication
reaches this middleware; one raised by a guard is answered below it by a close, which is
replaced (the exception is kept for it by `remember_refusal`, an ``after_exception`` hook).
"""

from __future__ import annotations

import msgspec
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from litestar.types.asgi_types import WebSocketResponseStartEvent

from api.http.problems import problem_body, problem_for

DENIAL_EXTENSION = "websocket.http.response"
PROBLEM_JSON = b"application/problem+json"
REFUSAL = "chronicle.refusal"  # the scope key the exception is kept under


async def remember_refusal(error: Exception, scope: Scope) -> None:
    """Keep the exception a WebSocket route raised, for `HandshakeRefusal`."""
    if scope["type"] == ScopeType.WEBSOCKET:
        scope[REFUSAL] = error  # type: ignore[literal-required]


class HandshakeRefusal(ASGIMiddleware):
    """Outside authentication, so it sees the refusals of authentication and guards."""

    scopes = (ScopeType.WEBSOCKET,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        accepted = False

        async def refuse_or_send(message: Message) -> None:
            nonlocal accepted
            accepted = accepted or message["type"] == "websocket.accept"
            error = scope.get(REFUSAL)
            refusing = not accepted and message["type"] == "websocket.close"
            if not (refusing and isinstance(error, Exception) and await refuse(scope, send, error)):
                await send(message)

        try:
            await next_app(scope, receive, refuse_or_send)
        except Exception as error:
            if accepted or not await refuse(scope, send, error):
                raise


async def refuse(scope: Scope, send: Send, error: Exception) -> bool:
    """Answer the handshake with the problem of ``error``; False if the server cannot."""
    if DENIAL_EXTENSION not in (scope.get("extensions") or {}):
        return False
    problem = problem_for(error)
    headers = [(b"content-type", PROBLEM_JSON)]
    headers += [(k.lower().encode(), v.encode()) for k, v in (problem.headers or {}).items()]
    start: WebSocketResponseStartEvent = {
        "type": "websocket.http.response.start",
        "status": problem.status_code,
        "headers": headers,
    }
    await send(start)
    body = msgspec.json.encode(problem_body(problem))
    await send({"type": "websocket.http.response.body", "body": body, "more_body": False})
    return True
