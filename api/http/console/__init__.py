"""The web console at ``/console``: server-rendered pages over the same read models and use
cases as ``/v1``, signed in with an API key, live parts over Server-Sent Events.

Not part of the ``/v1`` contract: its routes stay out of the OpenAPI document, and it
authenticates by its own session cookie rather than a bearer key.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, Router
from litestar.di import Provide
from litestar.response import Redirect
from litestar.static_files import create_static_files_router

from api.http.console.actions import ActionsController
from api.http.console.documents import DocumentsController, console_document_socket
from api.http.console.pages import PagesController
from api.http.console.projections import ProjectionsController
from api.http.console.render import STATIC, page, template_config
from api.http.console.runs import RunsController
from api.http.console.signin import SignInController
from api.http.console.streams import StreamsController
from api.http.console.viewer import (
    CsrfRefused,
    NotAllowed,
    NotSignedIn,
    provide_sessions,
    provide_viewer,
)
from application.errors import NotFound

__all__ = ["console_router", "template_config"]


def _not_signed_in(request: Request[Any, Any, Any], _: Exception) -> Response[Any]:
    """A page asks to sign in; a form or a stream is refused."""
    if request.method == "GET" and not request.url.path.endswith("/stream"):
        return Redirect("/console/login", status_code=303)
    return page(None, "refused.html", "Not signed in", status_code=401, reason="Sign in first.")


def _not_allowed(_: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    assert isinstance(error, NotAllowed)
    return page(error.viewer, "refused.html", "Not allowed", status_code=403, reason=error.reason)


def _csrf_refused(_: Request[Any, Any, Any], __: Exception) -> Response[Any]:
    reason = "The form was sent without its security token: reload the page and try again."
    return page(None, "refused.html", "Form refused", status_code=403, reason=reason)


def _not_found(_: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    return page(None, "refused.html", "Not found", status_code=404, reason=str(error))


def console_router() -> Router:
    """The console's routes, made per app (its cached dependencies belong to one app)."""
    return Router(
        path="/",
        route_handlers=[
            SignInController,
            PagesController,
            ActionsController,
            StreamsController,
            RunsController,
            ProjectionsController,
            DocumentsController,
            console_document_socket,
            create_static_files_router(
                path="/console/static", directories=[STATIC], include_in_schema=False
            ),
        ],
        include_in_schema=False,
        dependencies={
            "console_sessions": Provide(provide_sessions, use_cache=True, sync_to_thread=False),
            "viewer": Provide(provide_viewer),
        },
        exception_handlers={
            NotSignedIn: _not_signed_in,
            NotAllowed: _not_allowed,
            CsrfRefused: _csrf_refused,
            NotFound: _not_found,
        },
    )
