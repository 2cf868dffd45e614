"""The ports the use cases need from the outside world, as protocols.

Infrastructure implements them; this module only names what is needed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from application.context import CommandContext
from domain.agent_run import AgentRun
from domain.events import RecordedEvent

A = TypeVar("A", bound=Aggregate)

__all__ = [
    "A",
    "Change",
    "CommandResult",
    "CommandTracer",
    "EventStore",
    "RecordedEvent",
    "RunSteps",
    "StoredReceipt",
    "TracedCommand",
]


@dataclass(frozen=True)
class Change:
    """What a command decided: the aggregates to save, and the result to answer with."""

    aggregates: tuple[Aggregate, ...]
    subject: Aggregate
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CommandResult:
    """The answer to a command: the subject's new version and the last event's position."""

    id: UUID
    version: int
    position: int
    fields: dict[str, str] = field(default_factory=dict)
    replayed: bool = False


@dataclass(frozen=True)
class StoredReceipt:
    """The remembered outcome of an idempotent command."""

    fingerprint: str
    result: CommandResult


class EventStore(Protocol):
    """The unit-of-work seam: the only way anything is written to the log."""

    def get(self, aggregate_id: UUID, kind: type[A]) -> A:
        """Load an aggregate; raise ``NotFound`` when absent or of another kind."""

    def get_at(self, aggregate_id: UUID, version: int) -> Aggregate:
        """The aggregate as it was at ``version``; ``NotFound`` when it never existed."""

    async def commit(self, context: CommandContext, change: Change) -> CommandResult:
        """Store the change's events atomically with the context's idempotency receipt.

        Raises ``ConcurrencyConflict`` when another writer got there first and
        ``DuplicateReceipt`` when the same idempotency key committed concurrently.
        """

    async def commit_together(
        self, subject: Aggregate, decided: Sequence[tuple[CommandContext, Sequence[Any]]]
    ) -> list[int]:
        """Store the events several commands decided on ``subject`` (collected in order,
        each with its command's context as metadata; none with an idempotency key)
        atomically: all or none. The position of each command's last event;
        ``ConcurrencyConflict`` when another writer got there first."""

    def find_receipt(self, tenant_id: str, key: str) -> StoredReceipt | None:
        """The outcome remembered for an idempotency key, if any."""

    def read_stream(
        self, aggregate_id: UUID, from_version: int, limit: int
    ) -> Sequence[RecordedEvent]:
        """Stored events of one aggregate from a version on, oldest first."""

    def aggregate_ids(self, kind: type[Aggregate]) -> Sequence[UUID]:
        """Ids of every aggregate of one class, oldest first (for admin tooling)."""


class TracedCommand(Protocol):
    """A command being traced: its context, now naming the command's span as its
    ``traceparent`` (so its events carry it)."""

    @property
    def context(self) -> CommandContext: ...

    def finished(self, result: CommandResult) -> None:
        """The command committed (or replayed) with ``result``."""


class CommandTracer(Protocol):
    """Makes a span of each command; an error leaving the block is its outcome."""

    def trace(self, context: CommandContext) -> AbstractContextManager[TracedCommand]: ...


class RunSteps(Protocol):
    """Told of each step of an agent run once it has committed (to trace it)."""

    async def recorded(self, run: AgentRun, step: str, details: Mapping[str, Any]) -> None: ...


class SubjectKeys(Protocol):
    """The data keys of data subjects, kept beside the log (an erasure destroys them with
    its event, in the event store's commit)."""

    def held(self, tenant_id: str, subject: str) -> int:
        """How many data keys the tenant's subject has."""
        ...

    def forget(self, tenant_id: str, subject: str) -> None:
        """Drop the subject's keys from this process's cache."""
        ...


class WebhookSecrets(Protocol):
    """Where webhooks' signing secrets are kept: beside the log, never in it."""

    def keep(self, webhook_id: UUID, secret: str) -> None:
        """Keep ``secret`` (``whsec_…``) for the webhook; an existing one stays."""
