"""End users' tokens: minted for a user by the platform's backend, verified by signature,
the user's revocations and the tenant's key rotations alone (no database round trip),
revoked for every process.

A token says who (``sub``), for which tenant, what it may do (``scope``) and on what
(``conversations``, ``documents``); the log says it was issued, when a user's tokens were
revoked and when the tenant's signing key was rotated. Every API process reads those
from the log at start and whenever the live hub tells of a new one. Times are
milliseconds in the log and fractional seconds in the token, so a token minted a moment
after a revocation is not taken for one minted before it.
"""

from __future__ import annotations

import asyncio
import functools
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from uuid import UUID

from application.commands import CommandRunner
from application.context import CommandContext, Principal
from application.errors import NotFound, Unauthenticated
from application.ports import Change, CommandResult, EventStore
from domain.events import RecordedEvent
from domain.ids import new_id
from domain.people import EndUser, TokenKeys, check_user_id

REVOKED_EVENT = "UserTokensRevoked"
ROTATED_EVENT = "TokenKeyRotated"
FOLLOWED_EVENTS = (REVOKED_EVENT, ROTATED_EVENT)  # what every API process reads from the log
NONE: frozenset[str] = frozenset()
USER_TOKEN_PREFIX = "token:"  # noqa: S105 - what a user token's principal's key id starts with
PAGE = 1000


@functools.lru_cache(maxsize=64)
def scope_set(scopes: str) -> frozenset[str]:
    """The scopes of a token's ``scope`` claim, one set shared by the tokens alike (a
    principal lives as long as its live connection)."""
    return frozenset(scopes.split())


class TokenSigner(Protocol):
    """Signs a tenant's token claims with a version of its key, and verifies a token's
    signature and times."""

    def prepare(self, tenant_id: str, version: int) -> None:
        """Have the key of ``version`` at hand (blocking I/O the first time)."""
        ...

    def sign(self, tenant_id: str, version: int, claims: Mapping[str, Any]) -> str: ...

    def verify(self, token: str) -> tuple[dict[str, Any], int]:
        """The claims of a token signed for its tenant with a key at hand, unexpired, and
        the key's version; `Unauthenticated` otherwise."""
        ...


class TokenLog(Protocol):
    """Events of one type after a position, in order (the event log)."""

    def after(
        self, position: int, limit: int, tenant: str | None = None, event_type: str | None = None
    ) -> list[RecordedEvent]: ...


@dataclass(frozen=True)
class TokenGrant:
    """What a user token is asked to allow."""

    user_id: str
    scopes: list[str]
    conversations: list[UUID] = field(default_factory=list)
    documents: list[UUID] = field(default_factory=list)
    name: str = ""
    ttl_s: int = 3600


@dataclass(frozen=True)
class KeyRotation:
    """A tenant's new signing key, and until when the earlier ones still verify."""

    version: int
    rotated_at: float  # unix seconds
    previous_until: float


@dataclass
class _KeyVersions:
    """What a process knows of a tenant's keys: the newest version, and until when (unix
    ms) each earlier one verifies."""

    newest: int = 1
    until: dict[int, int] = field(default_factory=dict)

    def learn(self, version: int, previous_until: int) -> None:
        self.newest = max(self.newest, version)
        for earlier in range(1, version):
            self.until[earlier] = min(self.until.get(earlier, previous_until), previous_until)

    def retired(self, version: int, now: int) -> bool:
        return now >= self.until.get(version, math.inf)


@dataclass(frozen=True)
class MintedToken:
    token: str
    token_id: str
    user_id: str
    expires_at: float  # unix seconds


class UserTokens:
    """Minting, revoking and verifying user tokens."""

    def __init__(
        self,
        store: EventStore,
        runner: CommandRunner,
        signer: TokenSigner,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._runner = runner
        self._signer = signer
        self._clock = clock
        self._revoked: dict[tuple[str, str], int] = {}  # (tenant, user) -> before, in ms
        self._keys: dict[str, _KeyVersions] = {}  # of the tenants that rotated
        self._seen = dict.fromkeys(FOLLOWED_EVENTS, 0)  # the last position read, by type
        self._lock = threading.Lock()

    async def mint(
        self, context: CommandContext, grant: TokenGrant
    ) -> tuple[MintedToken, CommandResult]:
        """Record the token as issued, then sign it. A replayed command (the same
        Idempotency-Key) signs the same claims again: the same token."""
        check_user_id(grant.user_id)
        token_id, issued_ms = str(new_id()), int(self._clock() * 1000)
        tenant = context.tenant_id

        def decide() -> Change:
            user_id = EndUser.create_id(tenant, grant.user_id)
            try:
                user = self._store.get(user_id, EndUser)
            except NotFound:
                user = EndUser.add(tenant, grant.user_id)
            user.issue_token(
                token_id,
                grant.name,
                grant.scopes,
                [str(c) for c in grant.conversations],
                [str(d) for d in grant.documents],
                issued_ms,
                grant.ttl_s,
                self._key_version(tenant),
            )
            return Change((user,), user)

        result = await self._runner.run(context, decide, retry_on_conflict=True)
        issued = self._issued(result)
        version = int(issued.get("key_version", 1))
        await asyncio.to_thread(self._signer.prepare, tenant, version)
        claims = {
            "sub": issued["user_id"],
            "tenant": tenant,
            "jti": issued["token_id"],
            "iat": issued["issued_at"] / 1000,
            "nbf": issued["issued_at"] / 1000,
            "exp": issued["expires_at"] / 1000,
            "scope": " ".join(issued["scopes"]),
            "conversations": issued["conversations"],
            "documents": issued["documents"],
        }
        if issued["name"]:
            claims["name"] = issued["name"]
        token = self._signer.sign(tenant, version, claims)
        return MintedToken(token, issued["token_id"], issued["user_id"], claims["exp"]), result

    def _key_version(self, tenant: str) -> int:
        """The version of the tenant's newest signing key, as the store has it."""
        try:
            return self._store.get(TokenKeys.create_id(tenant), TokenKeys).key_version
        except NotFound:
            return 1

    async def rotate(
        self, context: CommandContext, retire_previous: str
    ) -> tuple[CommandResult, KeyRotation]:
        """Sign the tenant's tokens with a new key from now on; the earlier keys verify
        until their tokens have expired (``at_expiry``) or no longer (``now``), on every
        API process within a second."""
        now = int(self._clock() * 1000)
        tenant = context.tenant_id

        def decide() -> Change:
            try:
                keys = self._store.get(TokenKeys.create_id(tenant), TokenKeys)
            except NotFound:
                keys = TokenKeys.open(tenant)
            keys.rotate(now, retire_previous)
            return Change((keys,), keys)

        result = await self._runner.run(context, decide, retry_on_conflict=True)
        (event,) = self._store.read_stream(result.id, result.version, 1)
        version, until = int(event.data["version"]), int(event.data["previous_until"])
        await asyncio.to_thread(self._signer.prepare, tenant, version)
        self._learn_rotation(tenant, version, until)
        return result, KeyRotation(version, event.data["rotated_at"] / 1000, until / 1000)

    def _issued(self, result: CommandResult) -> dict[str, Any]:
        """The ``UserTokenIssued`` a (possibly replayed) command stored."""
        (event,) = self._store.read_stream(result.id, result.version, 1)
        return {**event.data, "user_id": self._store.get(result.id, EndUser).user_id}

    async def revoke(self, context: CommandContext, user_id: str) -> tuple[CommandResult, float]:
        """Refuse every token of the user issued until now; the result and that moment."""
        check_user_id(user_id)
        before = int(self._clock() * 1000) + 1
        tenant = context.tenant_id

        def decide() -> Change:
            try:
                user = self._store.get(EndUser.create_id(tenant, user_id), EndUser)
            except NotFound:
                user = EndUser.add(tenant, user_id)
            user.revoke_tokens(before)
            return Change((user,), user)

        result = await self._runner.run(context, decide, retry_on_conflict=True)
        (event,) = self._store.read_stream(result.id, result.version, 1)
        revoked = int(event.data["before"])
        self._remember(tenant, user_id, revoked)
        return result, revoked / 1000

    def principal(self, token: str) -> Principal:
        """The principal of a user token; `Unauthenticated` for a token that is
        malformed, wrongly signed, expired, not yet valid or revoked."""
        claims, version = self._signer.verify(token)
        tenant, user = claims["tenant"], claims["sub"]
        with self._lock:
            before = self._revoked.get((tenant, user), 0)
            keys = self._keys.get(tenant)
            retired = keys is not None and keys.retired(version, int(self._clock() * 1000))
        if retired:
            raise Unauthenticated("a token signed with a retired key")
        if claims["iat"] * 1000 < before:
            raise Unauthenticated("revoked token")
        return Principal(
            tenant_id=tenant,
            key_id=USER_TOKEN_PREFIX + claims["jti"],
            scopes=scope_set(claims["scope"]),
            user_id=user,
            conversations=frozenset(claims["conversations"]) if claims["conversations"] else NONE,
            documents=frozenset(claims["documents"]) if claims["documents"] else NONE,
        )

    def catch_up(self, log: TokenLog) -> None:
        """Read the revocations and key rotations stored since the last call (every one,
        the first time), loading the rotated keys (blocking I/O); an API process calls it
        at start and whenever the log tells of a new one."""
        for event_type in FOLLOWED_EVENTS:
            while True:
                with self._lock:
                    seen = self._seen[event_type]
                page = log.after(seen, PAGE, event_type=event_type)
                for event in page:
                    self._take(event)
                with self._lock:
                    self._seen[event_type] = max(
                        self._seen[event_type], page[-1].position if page else seen
                    )
                if len(page) < PAGE:
                    break

    def _take(self, event: RecordedEvent) -> None:
        data = event.data
        if event.type == ROTATED_EVENT:
            self._signer.prepare(event.tenant_id, int(data["version"]))
            self._learn_rotation(event.tenant_id, int(data["version"]), int(data["previous_until"]))
        else:
            self._remember(event.tenant_id, data["user_id"], int(data["before"]))

    def _learn_rotation(self, tenant: str, version: int, previous_until: int) -> None:
        with self._lock:
            self._keys.setdefault(tenant, _KeyVersions()).learn(version, previous_until)

    def _remember(self, tenant: str, user_id: str, before: int) -> None:
        with self._lock:
            key = (tenant, user_id)
            self._revoked[key] = max(before, self._revoked.get(key, 0))
