"""Tenants and API keys: issuing, revoking, listing, and authenticating a bearer token.

A key's secret is returned once at issue; only its SHA-256 digest is stored.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass
from uuid import UUID

from application.commands import CommandRunner
from application.context import CommandContext, Principal
from application.errors import NotFound, OwnKeyRevocation, Unauthenticated
from application.ports import Change, CommandResult, EventStore
from application.tenancy import load_owned
from domain.identity import ApiKey, Tenant

TOKEN_PREFIX = "chr"  # noqa: S105 - a prefix, not a secret
TOKEN_PATTERN = re.compile(rf"^{TOKEN_PREFIX}_([0-9a-f]{{32}})_([A-Za-z0-9_-]{{43}})$")
AUTH_CACHE_SECONDS = 1.0


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedKey:
    key_id: UUID
    tenant_id: str
    name: str
    scopes: tuple[str, ...]
    token: str


@dataclass(frozen=True)
class KeyView:
    key_id: UUID
    tenant_id: str
    name: str
    scopes: tuple[str, ...]
    revoked: bool
    created_at: str
    rotated_from: str | None = None


class Identity:
    """Use cases of tenants and keys, and authentication of bearer tokens."""

    def __init__(
        self, store: EventStore, runner: CommandRunner, cache_seconds: float = AUTH_CACHE_SECONDS
    ) -> None:
        self._store = store
        self._runner = runner
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    async def issue_key(
        self,
        context: CommandContext,
        tenant: str,
        name: str,
        scopes: list[str],
        rate_limit_per_minute: int | None = None,
    ) -> IssuedKey:
        """Create the tenant if it is new, then a key for it; both in one commit."""
        secret = secrets.token_urlsafe(32)

        def decide() -> Change:
            aggregates: list[Tenant | ApiKey] = []
            try:
                self._store.get(Tenant.create_id(tenant), Tenant)
            except NotFound:
                aggregates.append(Tenant.create(tenant))
            key = ApiKey.issue(tenant, name, scopes, digest(secret), rate_limit_per_minute)
            aggregates.append(key)
            return Change(tuple(aggregates), key)

        result = await self._runner.run(context, decide, retry_on_conflict=True)
        return await asyncio.to_thread(self._issued, result.id, secret)

    async def rotate_key(self, context: CommandContext, key_id: UUID) -> IssuedKey:
        """A new key with the same tenant, name, scopes and limit; the old one stays
        valid until it is revoked, so clients can switch over without downtime."""
        secret = secrets.token_urlsafe(32)

        def decide() -> Change:
            successor = self._store.get(key_id, ApiKey).successor(digest(secret))
            return Change((successor,), successor)

        result = await self._runner.run(context, decide)
        return await asyncio.to_thread(self._issued, result.id, secret)

    def _issued(self, key_id: UUID, secret: str) -> IssuedKey:
        key = self._store.get(key_id, ApiKey)
        token = f"{TOKEN_PREFIX}_{key.id.hex}_{secret}"
        return IssuedKey(key.id, key.tenant_id, key.name, tuple(key.scopes), token)

    async def revoke_key(
        self, context: CommandContext, key_id: UUID, reason: str = "", *, own: bool = False
    ) -> CommandResult:
        """Revoke a key; with ``own`` only a key of the context's tenant (else `NotFound`),
        and not the one the context acts with (`OwnKeyRevocation`)."""

        def decide() -> Change:
            if own:
                key = load_owned(self._store, key_id, ApiKey, context.tenant_id)
                if context.actor == f"key:{key_id}":
                    raise OwnKeyRevocation(f"key {key_id} cannot revoke itself; use another key")
            else:
                key = self._store.get(key_id, ApiKey)
            key.revoke(reason)
            return Change((key,), key)

        result = await self._runner.run(context, decide)
        self.forget(str(key_id))
        return result

    def forget(self, key_id: str) -> None:
        """Drop cached answers for a key, so its revocation takes effect at once."""
        with self._lock:
            for cache_key, (_, principal) in list(self._cache.items()):
                if principal.key_id == key_id:
                    del self._cache[cache_key]

    async def set_budget(
        self,
        context: CommandContext,
        tenant: str,
        daily_tokens: int | None,
        daily_cost_usd: float | None,
    ) -> CommandResult:
        def decide() -> Change:
            record = self._tenant(tenant)
            record.set_budget(daily_tokens, daily_cost_usd)
            return Change((record,), record)

        return await self._runner.run(context, decide, retry_on_conflict=True)

    async def set_retention(
        self, context: CommandContext, tenant: str, days: int | None
    ) -> CommandResult:
        """Erase the tenant's conversations once ``days`` old (``None``: never)."""

        def decide() -> Change:
            record = self._tenant(tenant)
            record.set_retention(days)
            return Change((record,), record)

        return await self._runner.run(context, decide, retry_on_conflict=True)

    def _tenant(self, tenant: str) -> Tenant:
        try:
            return self._store.get(Tenant.create_id(tenant), Tenant)
        except NotFound:
            raise NotFound(f"no tenant {tenant!r}") from None

    def retention(self) -> dict[str, int]:
        """The retention of every tenant that has one, in days, by tenant."""
        tenants = (self._store.get(i, Tenant) for i in self._store.aggregate_ids(Tenant))
        return {t.name: t.retention_days for t in tenants if t.retention_days is not None}

    def find_key(self, key_id: UUID) -> KeyView:
        key = self._store.get(key_id, ApiKey)
        return self._view(key)

    def list_keys(self, tenant: str | None = None) -> list[KeyView]:
        keys = (self._store.get(i, ApiKey) for i in self._store.aggregate_ids(ApiKey))
        return [self._view(k) for k in keys if tenant is None or k.tenant_id == tenant]

    @staticmethod
    def _view(key: ApiKey) -> KeyView:
        return KeyView(
            key.id,
            key.tenant_id,
            key.name,
            tuple(key.scopes),
            key.revoked,
            key.created_on.isoformat(),
            getattr(key, "rotated_from", None),  # keys issued before rotation existed
        )

    def owner_of(self, token: str) -> tuple[str, str] | None:
        """The tenant and key id a bearer token names, whether or not its secret is
        right; ``None`` for a malformed token or an unknown key. For audit only."""
        match = TOKEN_PATTERN.fullmatch(token)
        if match is None:
            return None
        try:
            key = self._store.get(UUID(hex=match.group(1)), ApiKey)
        except NotFound:
            return None
        return key.tenant_id, str(key.id)

    def is_valid(self, token: str) -> bool:
        try:
            self._verify(token)
        except Unauthenticated:
            return False
        return True

    def authenticate(self, token: str) -> Principal:
        """The principal of a bearer token; raises ``Unauthenticated`` otherwise.

        Answers are cached for about a second, so a revocation takes effect within it
        even if its `forget` never arrives.
        """
        cache_key = digest(token)
        cached = self._cached(cache_key)
        if cached is not None:
            return cached
        now = time.monotonic()
        principal = self._verify(token)
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[cache_key] = (now, principal)
        return principal

    def cached(self, token: str) -> Principal | None:
        """The principal of a token verified within the cache period, without I/O."""
        return self._cached(digest(token))

    def _cached(self, cache_key: str) -> Principal | None:
        with self._lock:
            cached = self._cache.get(cache_key)
        if cached is not None and time.monotonic() - cached[0] < self._cache_seconds:
            return cached[1]
        return None

    def _verify(self, token: str) -> Principal:
        match = TOKEN_PATTERN.fullmatch(token)
        if match is None:
            raise Unauthenticated("malformed API key")
        key_hex, secret = match.groups()
        try:
            key = self._store.get(UUID(hex=key_hex), ApiKey)
        except NotFound:
            raise Unauthenticated("unknown API key") from None
        if not hmac.compare_digest(digest(secret), key.secret_sha256):
            raise Unauthenticated("unknown API key")
        if key.revoked:
            raise Unauthenticated("revoked API key")
        limit = getattr(key, "rate_limit_per_minute", None)  # keys issued before limits
        return Principal(key.tenant_id, str(key.id), frozenset(key.scopes), limit)

    async def record_rate_limited(self, key_id: UUID, window_start: str, refused: int) -> None:
        """One RateLimitExceeded event for a key's refusals within one minute."""

        def decide() -> Change:
            key = self._store.get(key_id, ApiKey)
            key.rate_limited(window_start, refused)
            return Change((key,), key)

        key = await asyncio.to_thread(self._store.get, key_id, ApiKey)
        context = CommandContext(
            tenant_id=key.tenant_id, actor="rate-limiter", command="rate_limit"
        )
        await self._runner.run(context, decide, retry_on_conflict=True)
