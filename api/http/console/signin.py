"""Signing in to the console with an API key, and signing out.

The login form carries a CSRF token bound to a nonce cookie of its own (there is no
session yet); the key is verified as the API verifies a bearer key.
"""

from __future__ import annotations

import secrets
from typing import Any

import anyio.to_thread
from litestar import Controller, Request, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.response import Redirect, Template

from api.bootstrap import Container
from api.http.console.render import page
from api.http.console.sessions import COOKIE, LOGIN_COOKIE, Sessions
from api.http.console.viewer import CsrfRefused, Viewer
from application.errors import Unauthenticated

LOGIN_SECONDS = 600
PATH = "/console"


def _cookie(request: Request[Any, Any, Any], name: str, value: str, max_age: int) -> Cookie:
    return Cookie(
        key=name,
        value=value,
        max_age=max_age,
        path=PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def _login_form(
    request: Request[Any, Any, Any], sessions: Sessions, error: str | None, status: int
) -> Template:
    nonce = secrets.token_urlsafe(18)
    form = page(
        None,
        "login.html",
        "Sign in",
        status_code=status,
        csrf=sessions.signer.csrf(f"login:{nonce}"),
        error=error,
    )
    form.cookies.append(_cookie(request, LOGIN_COOKIE, nonce, LOGIN_SECONDS))
    return form


class SignInController(Controller):
    path = PATH

    @get("/login")
    async def form(
        self, request: Request[Any, Any, Any], console_sessions: NamedDependency[Sessions]
    ) -> Template:
        """The sign-in form: one field, the API key."""
        return _login_form(request, console_sessions, None, 200)

    @post("/login", status_code=303)
    async def sign_in(
        self,
        request: Request[Any, Any, Any],
        container: NamedDependency[Container],
        console_sessions: NamedDependency[Sessions],
    ) -> Redirect | Template:
        """Check the form's CSRF token and the key; open a session and go to the overview."""
        form = await request.form()
        nonce = request.cookies.get(LOGIN_COOKIE, "")
        if not nonce or not console_sessions.signer.csrf_ok(
            f"login:{nonce}", form.get("csrf_token")
        ):
            raise CsrfRefused("the sign-in form's CSRF token is missing or wrong")
        key = str(form.get("api_key") or "").strip()
        try:
            principal = await anyio.to_thread.run_sync(container.identity.authenticate, key)
        except Unauthenticated:
            return _login_form(request, console_sessions, "That API key was not accepted.", 401)
        value = await console_sessions.open(key, principal.tenant_id, sorted(principal.scopes))
        done = Redirect(PATH, status_code=303)
        done.cookies.append(_cookie(request, COOKIE, value, console_sessions.lifetime))
        done.cookies.append(_cookie(request, LOGIN_COOKIE, "", 0))
        return done

    @post("/logout", status_code=303)
    async def sign_out(
        self,
        request: Request[Any, Any, Any],
        viewer: NamedDependency[Viewer],
        console_sessions: NamedDependency[Sessions],
    ) -> Redirect:
        """Close the session (its key is forgotten) and go back to the sign-in form."""
        await console_sessions.close(viewer.claims)
        done = Redirect(f"{PATH}/login", status_code=303)
        done.cookies.append(_cookie(request, COOKIE, "", 0))
        return done
