"""End users' tokens: minted for a user by the platform's backend, verified by signature
and the user's revocations alone (no database round trip), revoked for every process.

A token says who (``sub``), for which tenant, what it may do (``scope``) and on what
(``conversations``, ``documents``); the log says it was issued and when a user's tokens
were revoked. Times are milliseconds in the log and fractional seconds in the token, so a
token minted a moment after a revocation is not taken for one minted before it.
"""

from __future__ import annotations

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
from domain.people import EndUser, check_user_id

REVOKED_EVENT = "UserTokensRevoked"
USER_TOKEN_PREFIX = "token:"  # noqa: S105 - what a user token's principal's key id starts with
PAGE = 1000


class TokenSigner(Protocol):
    """Signs a tenant's token claims, and verifies a token's signature and times."""

    def sign(self, tenant_id: str, claims: Mapping[str, Any]) -> str: ...

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a token signed for its tenant, unexpired; `Unauthenticated`
        otherwise."""
        ...


class RevocationLog(Protocol):
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
        self._seen = 0  # the position of the last revocation read from the log
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
            )
            return Change((user,), user)

        result = await self._runner.run(context, decide, retry_on_conflict=True)
        issued = self._issued(result)
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
        token = self._signer.sign(tenant, claims)
        return MintedToken(token, issued["token_id"], issued["user_id"], claims["exp"]), result

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
        claims = self._signer.verify(token)
        tenant, user = claims["tenant"], claims["sub"]
        with self._lock:
            before = self._revoked.get((tenant, user), 0)
        if claims["iat"] * 1000 < before:
            raise Unauthenticated("revoked token")
        return Principal(
            tenant_id=tenant,
            key_id=USER_TOKEN_PREFIX + claims["jti"],
            scopes=frozenset(claims["scope"].split()),
            user_id=user,
            conversations=frozenset(claims["conversations"]),
            documents=frozenset(claims["documents"]),
        )

    def catch_up(self, log: RevocationLog) -> None:
        """Read the revocations stored since the last call (every one, the first time);
        an API process calls it at start and whenever the log tells of a new one."""
        while True:
            with self._lock:
                seen = self._seen
            page = log.after(seen, PAGE, event_type=REVOKED_EVENT)
            for event in page:
                self._remember(event.tenant_id, event.data["user_id"], int(event.data["before"]))
            with self._lock:
                self._seen = max(self._seen, page[-1].position if page else seen)
            if len(page) < PAGE:
                return

    def _remember(self, tenant: str, user_id: str, before: int) -> None:
        with self._lock:
            key = (tenant, user_id)
            self._revoked[key] = max(before, self._revoked.get(key, 0))
