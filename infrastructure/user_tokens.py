"""User tokens as JWTs (PyJWT): HS256 with a key per tenant and version, named by the
token's ``kid`` (``<tenant>/<version>``).

A tenant's first key is derived from the deployment's token secret; each rotation's is a
secret of its own, made at random by the first process that needs it and kept beside the
log (``chronicle_secrets``), never in it. Keys never leave the process; a token of one
tenant cannot be verified with another's key, and only HS256 is accepted (a token saying
``alg: none`` or an asymmetric algorithm is refused before any check). Verifying reads no
database: a rotated key is loaded (`prepare`) when the process learns of the rotation.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import jwt

from application.errors import Unauthenticated
from domain.identity import TENANT_NAME
from infrastructure.secrets import stored_secret

ALGORITHM = "HS256"
FIRST_VERSION = 1
REQUIRED = ["exp", "iat", "nbf", "sub", "jti"]
VERSION = re.compile(r"[1-9][0-9]{0,8}")


def rotated_key_name(tenant_id: str, version: int) -> str:
    """The name a rotated key's secret is kept under."""
    return f"user-tokens/{tenant_id}/{version}"


class TokenSigning:
    """Signs and verifies user tokens with per-tenant, versioned keys.

    ``stored(name)`` answers the secret kept under ``name``, making it the first time
    (`token_signing` keeps them in PostgreSQL); it is called by `prepare` only.
    """

    def __init__(self, secret: bytes, stored: Callable[[str], bytes]) -> None:
        self._secret = secret
        self._stored = stored
        self._keys: dict[tuple[str, int], bytes] = {}

    def prepare(self, tenant_id: str, version: int) -> None:
        """Have the tenant's key of ``version`` at hand to sign and verify with (reads or
        makes its secret: blocking I/O, the first time)."""
        if self._known(tenant_id, version) is None:
            secret = self._stored(rotated_key_name(tenant_id, version))
            self._keys[tenant_id, version] = secret

    def _known(self, tenant_id: str, version: int) -> bytes | None:
        found = self._keys.get((tenant_id, version))
        if found is None and version == FIRST_VERSION:
            label = f"chronicle/user-tokens/{tenant_id}/{version}".encode()
            found = self._keys[tenant_id, version] = hmac.new(
                self._secret, label, hashlib.sha256
            ).digest()
        return found

    def sign(self, tenant_id: str, version: int, claims: Mapping[str, Any]) -> str:
        key = self._known(tenant_id, version)
        if key is None:
            raise LookupError(f"the key {tenant_id}/{version} is not prepared")
        kid = f"{tenant_id}/{version}"
        return jwt.encode(dict(claims), key, ALGORITHM, headers={"kid": kid})

    def verify(self, token: str) -> tuple[dict[str, Any], int]:
        """The claims of a well-formed, unexpired token signed with a key at hand, and the
        version of that key; `Unauthenticated` otherwise."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthenticated("malformed token") from None
        if header.get("alg") != ALGORITHM:
            raise Unauthenticated(f"a user token is signed with {ALGORITHM}")
        tenant, _, digits = str(header.get("kid", "")).rpartition("/")
        valid = TENANT_NAME.fullmatch(tenant) and VERSION.fullmatch(digits)
        key = self._known(tenant, int(digits)) if valid else None
        if key is None:
            raise Unauthenticated("a token signed with a key this deployment does not know")
        try:
            claims = jwt.decode(token, key, [ALGORITHM], options={"require": REQUIRED})
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
        return claims, int(digits)


def token_signing(dsn: str) -> TokenSigning:
    """The deployment's signing of user tokens, its secrets kept in the database."""
    return TokenSigning(stored_secret(dsn, "user-tokens"), partial(stored_secret, dsn))


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
