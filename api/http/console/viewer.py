"""Who looks at a console page: the session cookie checked, its key verified again, and
the page's scope (its route's ``opt["scope"]``) required; and the refusals that follow.

A page never trusts the scopes written in the cookie: they come from the key, now.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency

from api.bootstrap import Connections, Container
from api.http.console.sessions import COOKIE, Claims, Sessions, Signer
from application.context import Principal
from application.errors import Unauthenticated

SCOPE = "scope"  # the route option naming the scope a page needs


@dataclass(frozen=True)
class NavItem:
    href: str
    label: str
    scope: str


NAV = (
    NavItem("/console", "Overview", "read"),
    NavItem("/console/conversations", "Conversations", "read"),
    NavItem("/console/live", "Live", "live:read"),
    NavItem("/console/tasks", "Tasks", "read"),
    NavItem("/console/alerts", "Alerts", "read"),
    NavItem("/console/audit", "Audit", "audit:read"),
    NavItem("/console/projections", "Projections", "admin"),
)


class NotSignedIn(Exception):
    """No session, a forged or expired cookie, a closed session, or a revoked key."""


class NotAllowed(Exception):
    """The session's key may not see a page or take an action (``reason`` says why)."""

    def __init__(self, reason: str, viewer: Viewer) -> None:
        super().__init__(reason)
        self.reason = reason
        self.viewer = viewer


class CsrfRefused(Exception):
    """A form sent without the CSRF token of its session."""


@dataclass(frozen=True)
class Viewer:
    """A signed-in console user: the key's principal as verified now, and the session."""

    principal: Principal
    claims: Claims
    csrf: str

    def can(self, scope: str) -> bool:
        return scope in self.principal.scopes

    def require(self, scope: str) -> None:
        if not self.can(scope):
            raise NotAllowed(f"This key does not hold the “{scope}” scope this page needs.", self)

    @property
    def nav(self) -> list[NavItem]:
        return [item for item in NAV if self.can(item.scope)]


def provide_sessions(
    container: NamedDependency[Container], connections: NamedDependency[Connections]
) -> Sessions:
    return Sessions(Signer(container.console_secret), connections.redis)


async def signed_in(request: ASGIConnection[Any, Any, Any, Any], sessions: Sessions) -> Viewer:
    """The viewer of a request's session; `NotSignedIn` when there is none that holds."""
    claims = sessions.signer.open(request.cookies.get(COOKIE, ""))
    if claims is None:
        raise NotSignedIn("no valid session cookie")
    key = await sessions.key_of(claims)
    if key is None:
        raise NotSignedIn("the session is closed")
    container: Container = request.app.state.container
    principal = container.identity.cached(key)
    if principal is None:
        try:
            principal = await anyio.to_thread.run_sync(container.identity.authenticate, key)
        except Unauthenticated:
            await sessions.close(claims)
            raise NotSignedIn("the session's key no longer holds") from None
    if principal.tenant_id != claims.tenant:
        raise NotSignedIn("the session's key belongs to another tenant")
    return Viewer(principal, claims, sessions.signer.csrf(claims.sid))


async def provide_viewer(
    request: Request[Any, Any, Any], console_sessions: NamedDependency[Sessions]
) -> Viewer:
    """The viewer, holding the scope the route declares (`NotAllowed` if not); a form
    (any POST) must carry the session's CSRF token (`CsrfRefused` if not)."""
    viewer = await signed_in(request, console_sessions)
    scope = request.route_handler.opt.get(SCOPE)
    if isinstance(scope, str):
        viewer.require(scope)
    if request.method == "POST":
        form = await request.form()
        if not console_sessions.signer.csrf_ok(viewer.claims.sid, form.get("csrf_token")):
            raise CsrfRefused("the form's CSRF token is missing or wrong")
    return viewer
