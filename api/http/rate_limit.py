"""Rate limiting as middleware, after authentication: RateLimit-* headers on every
answer, and 429 with Retry-After when a key is over its limit.
"""

from __future__ import annotations

from litestar.enums import ScopeType
from litestar.exceptions import TooManyRequestsException
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from api.bootstrap import Connections
from application.context import Principal
from infrastructure.metrics import RATE_LIMIT_REFUSALS

REFUSED = RATE_LIMIT_REFUSALS.labels("requests_per_minute")


class RateLimitMiddleware(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)  # public paths carry no principal and pass straight through

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        principal = scope.get("user")
        if not isinstance(principal, Principal):
            await next_app(scope, receive, send)
            return
        connections: Connections = scope["litestar_app"].state.container.connections
        limiter = connections.limiter
        verdict = await limiter.hit(principal.key_id, principal.rate_limit_per_minute)
        if not verdict.allowed:
            REFUSED.inc()
            raise TooManyRequestsException(
                detail=f"over {verdict.limit} requests per minute for this key",
                headers=verdict.headers(),
            )
        headers = verdict.headers()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    *((k.lower().encode(), v.encode()) for k, v in headers.items()),
                ]
            await send(message)

        await next_app(scope, receive, send_with_headers)
