"""HTTP resource for a tenant's own API keys (scope ``admin``): list and revoke.

Issuing and rotating return a secret, so they are CLI commands of the operator.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import anyio.to_thread
import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.response import Response

from api.http.auth import requires
from api.http.commands import Changed, answer
from api.http.fields import NO_NUL
from application.context import CommandContext, Principal
from application.identity import Identity
from domain.identity import REVOKE_REASON_MAX_CHARS

ADMIN = [requires("admin")]


class Revoke(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(max_length=REVOKE_REASON_MAX_CHARS, pattern=NO_NUL)] = ""


class KeyOut(msgspec.Struct):
    key_id: UUID
    name: str
    scopes: list[str]
    revoked: bool
    created_at: str
    rotated_from: str | None


class KeyPage(msgspec.Struct):
    items: list[KeyOut]
    next: str | None


class KeysController(Controller):
    path = "/v1/keys"
    tags = ["keys"]

    @get("/", guards=ADMIN, operation_id="listKeys")
    async def list_keys(
        self, request: Request[Principal, Any, Any], identity: NamedDependency[Identity]
    ) -> KeyPage:
        """The tenant's keys (never their secrets), revoked ones included."""
        keys = await anyio.to_thread.run_sync(identity.list_keys, request.user.tenant_id)
        items = [
            KeyOut(k.key_id, k.name, list(k.scopes), k.revoked, k.created_at, k.rotated_from)
            for k in sorted(keys, key=lambda k: k.created_at)
        ]
        return KeyPage(items, None)

    @post(
        "/{key_id:uuid}/revoke",
        guards=ADMIN,
        status_code=200,
        operation_id="revokeKey",
        opt={"command": "key.revoke"},
    )
    async def revoke(
        self,
        key_id: FromPath[UUID],
        context: NamedDependency[CommandContext],
        identity: NamedDependency[Identity],
        data: JSONBody[Revoke | None] = None,
    ) -> Response[Changed]:
        """Revoke one of the tenant's keys; every API process refuses it within a second."""
        reason = data.reason if data else ""
        result = await identity.revoke_key(context, key_id, reason, own=True)
        return answer(Changed.of(result), result)
