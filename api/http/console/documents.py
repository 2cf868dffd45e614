"""The console's co-editor: a document's page, and its co-editing socket, which is the
``/v1/documents/{id}/ws`` protocol as the signed-in key (the session authenticates it).

A socket whose ``Origin`` is not this host is refused (the cookie is ``SameSite=Strict``
too): another site's page must not co-edit as the console's user.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import anyio.to_thread
from litestar import Controller, WebSocket, get, websocket
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template

from api.http.console.render import page
from api.http.console.sessions import Sessions
from api.http.console.viewer import SCOPE, NotSignedIn, signed_in
from api.http.console.viewer import Viewer as ConsoleViewer
from api.http.document_socket import document_socket
from application.documents import Documents
from infrastructure.editors import Editors
from infrastructure.live_hub import LiveHub
from infrastructure.live_limits import LiveLimits
from infrastructure.live_rooms import LiveRooms

POLICY_VIOLATION = 1008


def same_origin(socket: WebSocket[Any, Any, Any]) -> bool:
    origin = socket.headers.get("origin", "")
    return origin.split("://", 1)[-1] == socket.headers.get("host", "")


class DocumentsController(Controller):
    path = "/console/documents"

    @get("/{document_id:uuid}", opt={SCOPE: "read"})
    async def document(
        self,
        viewer: NamedDependency[ConsoleViewer],
        documents: NamedDependency[Documents],
        document_id: FromPath[UUID],
    ) -> Template:
        """A document, co-edited live with the other editors (their cursors shown) when the
        key may write; read-only, following the edits, when it may only read."""
        tenant = viewer.principal.tenant_id
        state = await anyio.to_thread.run_sync(documents.at, tenant, document_id)
        return page(
            viewer,
            "document.html",
            state.title or "Document",
            document_id=document_id,
            state=state,
            editable=viewer.can("commands:write"),
        )


@websocket("/console/documents/{document_id:uuid}/ws", include_in_schema=False)
async def console_document_socket(
    socket: WebSocket[Any, Any, Any],
    document_id: FromPath[UUID],
    console_sessions: NamedDependency[Sessions],
    documents: NamedDependency[Documents],
    hub: NamedDependency[LiveHub],
    rooms: NamedDependency[LiveRooms],
    live_limits: NamedDependency[LiveLimits],
    editors: NamedDependency[Editors],
) -> None:
    """The co-editing socket as the session's key (which needs ``commands:write``)."""
    try:
        viewer = await signed_in(socket, console_sessions)
    except NotSignedIn:
        viewer = None
    if viewer is None or not viewer.can("commands:write") or not same_origin(socket):
        await socket.close(code=POLICY_VIOLATION)
        return
    socket.scope["user"] = viewer.principal
    await document_socket.fn(socket, document_id, documents, hub, rooms, live_limits, editors)
