"""The audit trail of refused commands: a command answered 401, 403, 404 or 429 is
recorded as an `AccessDenied` event before the refusal leaves the server.

Refusals for being over the rate limit are the exception: they are recorded once per
key per minute (`RateLimitExceeded`), so a flood costs one event, not one per request.
Failed authentications are recorded up to a bound per named key (or client address)
and minute.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import anyio.to_thread
import structlog
from litestar.datastructures import Headers
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException, TooManyRequestsException
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from api.bootstrap import Container
from api.http.commands import command_of
from application.audit import Denial
from application.context import Principal
from application.errors import Unauthenticated
from domain.audit import DENIAL_REASONS
from domain.projection_log import SYSTEM_TENANT
from infrastructure.rate_limit import RateLimiter

FAILED_AUTHENTICATIONS_RECORDED_PER_MINUTE = 60
log = structlog.get_logger(__name__)


def status_of(error: Exception) -> int | None:
    """The status of a refusal raised by middleware (authentication, rate limit)."""
    if isinstance(error, Unauthenticated):
        return 401
    if isinstance(error, HTTPException):
        return error.status_code
    return None


def target_of(scope: Scope) -> str | None:
    """The resource a command names in its path: its first id."""
    for value in (scope.get("path_params") or {}).values():
        if isinstance(value, UUID):
            return str(value)
    return None


class DenialAuditMiddleware(ASGIMiddleware):
    """Outside authentication, so it sees the refusals authentication raises too."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        handler = scope.get("route_handler")
        command = command_of(handler) if handler is not None else None
        if command is None:  # not a command: reads are not audited
            await next_app(scope, receive, send)
            return

        async def send_after_recording(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in DENIAL_REASONS:
                status = message["status"]
                reason = "budget-exceeded" if status == 429 else DENIAL_REASONS[status]
                await self._record(scope, command, status, reason)
            await send(message)

        try:
            await next_app(scope, receive, send_after_recording)
        except Exception as error:
            status = status_of(error)
            if status in DENIAL_REASONS and not isinstance(error, TooManyRequestsException):
                await self._record(scope, command, status, DENIAL_REASONS[status])
            raise

    async def _record(self, scope: Scope, command: str, status: int, reason: str) -> None:
        app = scope["litestar_app"]
        container: Container = app.state.container
        try:
            assert container.connections is not None
            attribution = await self._attribute(scope, container, container.connections.limiter)
            if attribution is None:
                return
            tenant, actor, key_id = attribution
            headers = Headers.from_scope(scope)
            denial = Denial(
                tenant_id=tenant,
                actor=actor,
                key_id=key_id,
                command=command,
                target=target_of(scope),
                status=status,
                reason=reason,
                method=str(scope.get("method", "")),
                path=scope.get("path", ""),
                request_id=headers.get("x-request-id"),
                traceparent=headers.get("traceparent"),
            )
            await container.audit.record_denial(denial)
        except Exception as error:  # the refusal stands even if its record cannot be written
            log.warning("could not record a refused command", command=command, error=str(error))

    @staticmethod
    async def _attribute(
        scope: Scope, container: Container, limiter: RateLimiter
    ) -> tuple[str, str, str | None] | None:
        """(tenant, actor, key id) of the caller, or ``None`` to leave a refusal unrecorded."""
        principal: Any = scope.get("user")
        if isinstance(principal, Principal):
            return principal.tenant_id, principal.actor, principal.key_id
        client = (scope.get("client") or ("unknown", 0))[0]
        authorization = Headers.from_scope(scope).get("authorization", "")
        scheme, _, token = authorization.partition(" ")
        owner = None
        if scheme.lower() == "bearer" and token.strip():
            owner = await anyio.to_thread.run_sync(container.identity.owner_of, token.strip())
        # Bounded per named key (or per address when none), so a flood against one key
        # neither floods the log nor hides the failures of others.
        bound = f"unauthenticated:{owner[1] if owner else client}"
        verdict = await limiter.hit(
            bound, FAILED_AUTHENTICATIONS_RECORDED_PER_MINUTE, track_refusals=False
        )
        if not verdict.allowed:
            return None
        if owner is None:
            return SYSTEM_TENANT, f"anonymous:{client}", None
        tenant, key_id = owner
        return tenant, f"key:{key_id}", key_id
