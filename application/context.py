"""Who is acting and why: the principal of a request and the context of a command.

The context becomes the metadata of every event the command stores.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from application.errors import Forbidden
from domain.ids import new_id


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: a key of one tenant with some scopes, or one of the
    tenant's users with a token limited to some conversations and documents."""

    tenant_id: str
    key_id: str
    scopes: frozenset[str]
    rate_limit_per_minute: int | None = None
    user_id: str | None = None
    conversations: frozenset[str] = frozenset()
    documents: frozenset[str] = frozenset()

    @property
    def actor(self) -> str:
        return f"key:{self.key_id}" if self.user_id is None else f"user:{self.user_id}"

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise Forbidden(f"this operation needs the '{scope}' scope")


@dataclass(frozen=True)
class Idempotency:
    """A client's Idempotency-Key and the fingerprint of the request it came with."""

    key: str
    fingerprint: str


@dataclass(frozen=True)
class CommandContext:
    """Everything about one command that is not its payload."""

    tenant_id: str
    actor: str
    command: str
    command_id: UUID = field(default_factory=new_id)
    correlation_id: str | None = None
    causation_id: str | None = None
    traceparent: str | None = None
    idempotency: Idempotency | None = None

    @classmethod
    def for_principal(cls, principal: Principal, command: str, **kwargs: Any) -> CommandContext:
        return cls(tenant_id=principal.tenant_id, actor=principal.actor, command=command, **kwargs)

    def traced(self, traceparent: str | None) -> CommandContext:
        """This context in another trace span. (Copied by hand: `dataclasses.replace`
        costs as much as the span itself.)"""
        copy = object.__new__(CommandContext)
        copy.__dict__.update(self.__dict__, traceparent=traceparent)
        return copy

    def metadata(self) -> dict[str, str | None]:
        """The metadata stored with each event (``occurred_at`` is added by the store)."""
        command_id = str(self.command_id)
        return {
            "tenant_id": self.tenant_id,
            "actor": self.actor,
            "command": self.command,
            "command_id": command_id,
            "correlation_id": self.correlation_id or command_id,
            "causation_id": self.causation_id or command_id,
            "traceparent": self.traceparent,
        }
