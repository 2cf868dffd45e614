"""HTTP resource for a tenant's own API keys (scope ``admin``): list and revoke.

Issuing and rotating return a secret, so they are CLI commands of the operator.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import anyio.to_thread
import msgspec
from litestar import Controller, Request, get, post
from litestar.params import FromPath, JSONBody

from api.bootstrap import Container
from api.http.auth import requires
from api.http.commands import in_thread, run_command, version_and_position
from application.context import Principal

ADMIN = [requires("admin")]


class Revoke(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(max_length=500)] = ""


class KeysController(Controller):
    path = "/v1/keys"
    tags = ["keys"]

    @get("/", guards=ADMIN)
    async def list_keys(self, request: Request[Principal, Any, Any]) -> dict[str, Any]:
        """The tenant's keys (never their secrets), revoked ones included."""
        container: Container = request.app.state.container
        keys = await anyio.to_thread.run_sync(container.identity.list_keys, request.user.tenant_id)
        items = [
            {
                "key_id": str(k.key_id),
                "name": k.name,
                "scopes": list(k.scopes),
                "revoked": k.revoked,
                "created_at": k.created_at,
                "rotated_from": k.rotated_from,
            }
            for k in sorted(keys, key=lambda k: k.created_at)
        ]
        return {"items": items, "next": None}

    @post("/{key_id:uuid}/revoke", guards=ADMIN, status_code=200, opt={"command": "key.revoke"})
    async def revoke(
        self,
        request: Request[Principal, Any, Any],
        key_id: FromPath[UUID],
        data: JSONBody[Revoke | None] = None,
    ) -> Any:
        """Revoke one of the tenant's keys; every API process refuses it within a second."""
        container: Container = request.app.state.container
        reason = data.reason if data else ""
        return await run_command(
            request,
            in_thread(lambda ctx: container.identity.revoke_key(ctx, key_id, reason, own=True)),
            version_and_position,
        )
