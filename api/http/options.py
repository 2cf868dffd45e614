"""``OPTIONS`` answers that list every method of their path in ``Allow``.

Litestar makes a path's OPTIONS handler with its first route; when handlers of the same
path are registered later, the route is rebuilt but the old OPTIONS handler is kept, and
it answers with the methods of the old route only (``GET, OPTIONS`` for a path that
also takes ``POST``). This ``before_send`` hook puts the path's methods back.
"""

from __future__ import annotations

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope


async def allow_every_method(message: Message, scope: Scope) -> None:
    if (
        message["type"] != "http.response.start"
        or scope.get("method") != "OPTIONS"
        or (handler := scope.get("route_handler")) is None
    ):
        return
    methods: set[str] = set()
    for path in handler.paths:
        methods.update(scope["litestar_app"].route_handler_method_map.get(path, {}))
    if methods:
        MutableScopeHeaders.from_message(message)["Allow"] = ", ".join(sorted(methods))
