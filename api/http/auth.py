"""Bearer API-key authentication as middleware, and scope guards for route handlers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anyio.to_thread
import structlog
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.middleware.base import DefineMiddleware
from litestar.types import Guard

from api.bootstrap import Container
from api.http.commands import command_of
from application.context import Principal
from application.errors import Unauthenticated

PUBLIC_PATHS = ["^/healthz", "^/readyz", "^/schema", "^/metrics"]


class ApiKeyAuthentication(AbstractAuthenticationMiddleware):
    """Turns ``Authorization: Bearer <key>`` into a `Principal` on ``request.user``."""

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> Any:
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("send an API key as 'Authorization: Bearer <key>'")
        container: Container = connection.app.state.container
        token = token.strip()
        principal = container.identity.cached(token)
        if principal is None:
            principal = await anyio.to_thread.run_sync(container.identity.authenticate, token)
        bind_caller(principal, command_of(connection.route_handler))
        return AuthenticationResult(user=principal, auth=token)


def bind_caller(principal: Principal, command: str | None) -> None:
    """Name the tenant (and the command, on a command route) in the request's log lines."""
    if command is None:
        structlog.contextvars.bind_contextvars(tenant=principal.tenant_id)
    else:
        structlog.contextvars.bind_contextvars(tenant=principal.tenant_id, command=command)


def authentication_middleware() -> DefineMiddleware:
    return DefineMiddleware(ApiKeyAuthentication, exclude=PUBLIC_PATHS)


@dataclass(frozen=True)
class Requires:
    """A guard that lets through only principals holding ``scope``; a coroutine, so
    Litestar runs it on the event loop rather than in a worker thread."""

    scope: str

    async def __call__(
        self, connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
    ) -> None:
        principal: Principal = connection.user
        principal.require(self.scope)


def requires(scope: str) -> Guard:
    return Requires(scope)
