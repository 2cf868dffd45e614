"""User tokens as JWTs (PyJWT): HS256 with a key per tenant, derived from the
deployment's token secret and the key's version, named by the token's ``kid``.

The derived keys never leave the process and the secret never enters the log; a token
of one tenant cannot be verified with another's key, and only HS256 is accepted (a
token saying ``alg: none`` or an asymmetric algorithm is refused before any check).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

import jwt

from application.errors import Unauthenticated
from domain.identity import TENANT_NAME

ALGORITHM = "HS256"
KEY_VERSION = "1"
REQUIRED = ["exp", "iat", "nbf", "sub", "jti"]


class TokenSigning:
    """Signs and verifies user tokens with per-tenant keys."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret
        self._keys: dict[tuple[str, str], bytes] = {}

    def key(self, tenant_id: str, version: str = KEY_VERSION) -> bytes:
        found = self._keys.get((tenant_id, version))
        if found is None:
            label = f"chronicle/user-tokens/{tenant_id}/{version}".encode()
            found = self._keys[tenant_id, version] = hmac.new(
                self._secret, label, hashlib.sha256
            ).digest()
        return found

    def sign(self, tenant_id: str, claims: Mapping[str, Any]) -> str:
        kid = f"{tenant_id}/{KEY_VERSION}"
        return jwt.encode(dict(claims), self.key(tenant_id), ALGORITHM, headers={"kid": kid})

    def verify(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthenticated("malformed token") from None
        if header.get("alg") != ALGORITHM:
            raise Unauthenticated(f"a user token is signed with {ALGORITHM}")
        tenant, _, version = str(header.get("kid", "")).rpartition("/")
        if not TENANT_NAME.fullmatch(tenant) or version != KEY_VERSION:
            raise Unauthenticated("a token signed with a key this deployment does not know")
        try:
            claims = jwt.decode(
                token, self.key(tenant, version), [ALGORITHM], options={"require": REQUIRED}
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("expired token") from None
        except jwt.ImmatureSignatureError:
            raise Unauthenticated("token not yet valid") from None
        except jwt.InvalidSignatureError:
            raise Unauthenticated("wrongly signed token") from None
        except jwt.PyJWTError:
            raise Unauthenticated("malformed token") from None
        if not _well_formed(claims, tenant):
            raise Unauthenticated("malformed token")
        return claims


def _well_formed(claims: dict[str, Any], tenant: str) -> bool:
    def strings(value: Any) -> bool:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)

    return (
        claims.get("tenant") == tenant
        and isinstance(claims.get("sub"), str)
        and isinstance(claims.get("jti"), str)
        and isinstance(claims.get("scope"), str)
        and isinstance(claims.get("iat"), int | float)
        and strings(claims.get("conversations"))
        and strings(claims.get("documents"))
    )
