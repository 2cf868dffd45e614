"""Authentication as middleware (an API key, or a user token, as a bearer token; a user
token also as ``?token=`` or the ``chronicle_token`` cookie on the live routes, where a
browser's `EventSource` and WebSocket cannot send headers), and scope guards."""

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

# The console authenticates by its own session cookie (api/http/console/viewer.py).
PUBLIC_PATHS = ["^/healthz", "^/readyz", "^/schema", "^/metrics", "^/console"]


TOKEN_COOKIE = "chronicle_token"  # noqa: S105 - a cookie's name, not a secret
TOKEN_IN_URL = "token_in_url"  # noqa: S105 - a route option's name


def is_user_token(token: str) -> bool:
    """Whether a credential is a user token (a JWT) rather than an API key."""
    return token.count(".") == 2


def token_in_url(route_handler: BaseRouteHandler) -> bool:
    """Whether a route takes a user token in its URL or a cookie (the live routes)."""
    return bool(route_handler.opt.get(TOKEN_IN_URL))


class ApiKeyAuthentication(AbstractAuthenticationMiddleware):
    """Turns ``Authorization: Bearer <key or user token>`` into a `Principal` on
    ``request.user``."""

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> Any:
        token = bearer(connection)
        container: Container = connection.app.state.container
        if is_user_token(token):
            principal = container.tokens.principal(token)  # no I/O: a signature and a map
        elif (cached := container.identity.cached(token)) is not None:
            principal = cached
        else:
            principal = await anyio.to_thread.run_sync(container.identity.authenticate, token)
        bind_caller(principal, command_of(connection.route_handler))
        return AuthenticationResult(user=principal, auth=token)


def bearer(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The credential of a request: its bearer token, else (on a live route) a user
    token in ``?token=`` or the cookie. An API key is never taken from a URL."""
    scheme, _, token = connection.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    if token_in_url(connection.route_handler):
        found = connection.query_params.get("token") or connection.cookies.get(TOKEN_COOKIE)
        if found and is_user_token(found):
            return found
        if found:
            raise Unauthenticated("only a user token may be sent in the URL or a cookie")
    raise Unauthenticated("send an API key as 'Authorization: Bearer <key>'")


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
    """A guard that lets through only principals holding ``scope`` (a user token: holding
    ``user_scope``, where the route takes user tokens at all); a coroutine, so Litestar
    runs it on the event loop rather than in a worker thread."""

    scope: str
    user_scope: str | None = None

    async def __call__(
        self, connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
    ) -> None:
        principal: Principal = connection.user
        if principal.user_id is not None and self.user_scope is not None:
            principal.require(self.user_scope)
        else:
            principal.require(self.scope)


def requires(scope: str, *, user: str | None = None) -> Guard:
    """The guard of ``scope``; with ``user``, the scope a user token needs instead."""
    return Requires(scope, user)
