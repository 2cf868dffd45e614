"""HTTP resources for end users' tokens: a platform's backend mints a short-lived token for
one of its users and revokes every token of a user (scope ``tokens:write``); an
administrator rotates the tenant's signing key (scope ``admin``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

import msgspec
from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.response import Response

from api.http.auth import requires
from api.http.commands import answer
from api.http.fields import NO_NUL, UserIdPath
from application.context import CommandContext
from application.people import TokenGrant, UserTokens
from domain.people import (
    TOKEN_MAX_RESOURCES,
    TOKEN_MAX_SECONDS,
    TOKEN_NAME_MAX_CHARS,
    USER_ID,
    RetirePrevious,
    UserScope,
)

MINT = [requires("tokens:write")]
ROTATE = [requires("admin")]
UserId = Annotated[str, msgspec.Meta(max_length=128, pattern=USER_ID.pattern)]


class MintToken(msgspec.Struct, forbid_unknown_fields=True):
    user_id: UserId
    scopes: Annotated[list[UserScope], msgspec.Meta(min_length=1, max_length=8)]
    conversations: Annotated[list[UUID], msgspec.Meta(max_length=TOKEN_MAX_RESOURCES)] = []
    documents: Annotated[list[UUID], msgspec.Meta(max_length=TOKEN_MAX_RESOURCES)] = []
    name: Annotated[str, msgspec.Meta(max_length=TOKEN_NAME_MAX_CHARS, pattern=NO_NUL)] = ""
    ttl_s: Annotated[int, msgspec.Meta(ge=1, le=TOKEN_MAX_SECONDS)] = 3600


class Minted(msgspec.Struct):
    token: str
    token_id: str
    user_id: str
    expires_at: datetime


class Revoked(msgspec.Struct):
    user_id: str
    revoked_before: datetime
    position: int


class RotateKey(msgspec.Struct, forbid_unknown_fields=True):
    retire_previous: RetirePrevious = "at_expiry"


class KeyRotated(msgspec.Struct):
    version: int
    rotated_at: datetime
    previous_accepted_until: datetime
    position: int


class TokensController(Controller):
    tags = ["tokens"]

    @post(
        "/v1/tokens",
        guards=MINT,
        status_code=200,
        operation_id="mintUserToken",
        opt={"command": "token.mint"},
    )
    async def mint(
        self,
        data: JSONBody[MintToken],
        context: NamedDependency[CommandContext],
        tokens: NamedDependency[UserTokens],
    ) -> Response[Minted]:
        """A signed token for one user of the tenant (a JWT, at most a day): the user's
        browser follows `/v1/live` with it, and sees only what it names."""
        grant = TokenGrant(
            data.user_id,
            [str(scope) for scope in data.scopes],
            data.conversations,
            data.documents,
            data.name,
            data.ttl_s,
        )
        minted, result = await tokens.mint(context, grant)
        expires = datetime.fromtimestamp(minted.expires_at, UTC)
        body = Minted(minted.token, minted.token_id, minted.user_id, expires)
        return answer(body, result)

    @post(
        "/v1/users/{user_id:str}/revoke-tokens",
        guards=MINT,
        status_code=200,
        operation_id="revokeUserTokens",
        opt={"command": "token.revoke"},
    )
    async def revoke(
        self,
        user_id: UserIdPath,
        context: NamedDependency[CommandContext],
        tokens: NamedDependency[UserTokens],
    ) -> Response[Revoked]:
        """Refuse every token of the user issued until now, on every API process within a
        second."""
        result, before = await tokens.revoke(context, user_id)
        body = Revoked(user_id, datetime.fromtimestamp(before, UTC), result.position)
        return answer(body, result)

    @post(
        "/v1/tokens/rotate-key",
        guards=ROTATE,
        status_code=200,
        operation_id="rotateUserTokenKey",
        opt={"command": "token.rotate_key"},
    )
    async def rotate_key(
        self,
        data: JSONBody[RotateKey],
        context: NamedDependency[CommandContext],
        tokens: NamedDependency[UserTokens],
    ) -> Response[KeyRotated]:
        """Sign the tenant's user tokens with a new key from now on. The earlier keys
        verify the tokens they signed until those expire (`at_expiry`, at most a day), or
        no longer (`now`: a key thought leaked), on every API process within a second."""
        result, rotation = await tokens.rotate(context, data.retire_previous)
        body = KeyRotated(
            rotation.version,
            datetime.fromtimestamp(rotation.rotated_at, UTC),
            datetime.fromtimestamp(rotation.previous_until, UTC),
            result.position,
        )
        return answer(body, result)
