"""The web console's sessions: a signed, expiring cookie naming a session whose API key is
kept server-side in Valkey, and the CSRF token of each session.

The cookie holds the session id, tenant, scopes and expiry, signed with HMAC-SHA256 under
the deployment's console secret; it never holds the key. Every request verifies the key
again (`Identity` caches an answer for about a second), so a revoked key stops working
within that second, and what a page shows follows the key's scopes as they are now.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

import msgspec
from redis.asyncio import Redis

COOKIE = "chronicle_console"
LOGIN_COOKIE = "chronicle_console_login"
LIFETIME_SECONDS = 8 * 3600
_PREFIX = "chronicle:console:session:"


class Claims(msgspec.Struct, frozen=True):
    """What a session cookie says: its session id, tenant, scopes and expiry (Unix s)."""

    sid: str
    tenant: str
    scopes: list[str]
    exp: int


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Signer:
    """Signs and checks cookie values and CSRF tokens with one secret."""

    secret: bytes

    def _mac(self, purpose: str, message: bytes) -> bytes:
        return hmac.new(self.secret, purpose.encode() + b"\0" + message, hashlib.sha256).digest()

    def seal(self, claims: Claims) -> str:
        body = _b64(msgspec.json.encode(claims))
        return f"{body}.{_b64(self._mac('session', body.encode()))}"

    def open(self, value: str, now: float | None = None) -> Claims | None:
        """The claims of a cookie value signed here and not expired; ``None`` otherwise."""
        body, _, mac = value.partition(".")
        try:
            good = hmac.compare_digest(_unb64(mac), self._mac("session", body.encode()))
            claims = msgspec.json.decode(_unb64(body), type=Claims) if good else None
        except (ValueError, msgspec.DecodeError):
            return None
        if claims is None or claims.exp <= (time.time() if now is None else now):
            return None
        return claims

    def csrf(self, nonce: str) -> str:
        """The CSRF token of a session (or of a login form's nonce)."""
        return _b64(self._mac("csrf", nonce.encode()))

    def csrf_ok(self, nonce: str, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf(nonce), str(token))


class Sessions:
    """Opens, finds and closes console sessions; the API key of each stays in Valkey."""

    def __init__(self, signer: Signer, redis: Redis, lifetime: int = LIFETIME_SECONDS) -> None:
        self.signer = signer
        self._redis = redis
        self.lifetime = lifetime

    async def open(self, api_key: str, tenant: str, scopes: list[str]) -> str:
        """A new session for a verified key; the cookie value naming it."""
        sid = secrets.token_urlsafe(24)
        await self._redis.set(_PREFIX + sid, api_key, ex=self.lifetime)
        claims = Claims(sid, tenant, sorted(scopes), int(time.time()) + self.lifetime)
        return self.signer.seal(claims)

    async def key_of(self, claims: Claims) -> str | None:
        """The API key of a session still open, or ``None``."""
        found = await self._redis.get(_PREFIX + claims.sid)
        if found is None:
            return None
        return found.decode() if isinstance(found, bytes) else str(found)

    async def close(self, claims: Claims) -> None:
        await self._redis.delete(_PREFIX + claims.sid)
