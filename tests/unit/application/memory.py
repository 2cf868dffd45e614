"""An event store in memory: the `EventStore` port with the Postgres store's semantics
(optimistic concurrency per aggregate, atomic commits with their idempotency receipt,
global positions) and none of its I/O, so use cases are tested without a database.
"""

from __future__ import annotations

import asyncio
import copy
import secrets
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, CanMutateAggregate

from application.context import CommandContext
from application.errors import ConcurrencyConflict, DuplicateReceipt, NotFound
from application.ports import A, Change, CommandResult, StoredReceipt
from domain.events import RecordedEvent

Event = CanMutateAggregate[UUID]
ENVELOPE = ("originator_id", "originator_version", "timestamp", "metadata")


@dataclass
class MemoryEventStore:
    """Aggregates as lists of their events, receipts by (tenant, key), and the log."""

    streams: dict[UUID, list[Event]] = field(default_factory=dict)
    receipts: dict[tuple[str, str], StoredReceipt] = field(default_factory=dict)
    log: list[RecordedEvent] = field(default_factory=list)
    before_commit: Callable[[Change], None] | None = None
    """Called as a commit begins, where a test interleaves a concurrent writer."""

    def get(self, aggregate_id: UUID, kind: type[A]) -> A:
        aggregate = self._replay(aggregate_id, None)
        if not isinstance(aggregate, kind):
            raise NotFound(f"{kind.__name__.lower()} {aggregate_id} not found")
        return aggregate

    def get_at(self, aggregate_id: UUID, version: int) -> Aggregate:
        return self._replay(aggregate_id, version)

    async def commit(self, context: CommandContext, change: Change) -> CommandResult:
        await asyncio.sleep(0)  # a commit is awaited: let other commands interleave
        if self.before_commit is not None:
            hook, self.before_commit = self.before_commit, None
            hook(change)
        return self.write(context, change)

    async def commit_together(
        self, subject: Aggregate, decided: Sequence[tuple[CommandContext, Sequence[Any]]]
    ) -> list[int]:
        await asyncio.sleep(0)
        first = decided[0][1][0]
        if first.originator_version != len(self.streams.get(first.originator_id, [])) + 1:
            raise ConcurrencyConflict(f"aggregate {first.originator_id} changed meanwhile")
        ends = []
        for context, events in decided:
            metadata = context.metadata() | {"occurred_at": events[0].timestamp.isoformat()}
            for event in events:
                self.streams.setdefault(event.originator_id, []).append(copy.deepcopy(event))
                self.log.append(_recorded(len(self.log) + 1, event, metadata))
            ends.append(len(self.log))
        return ends

    def write(self, context: CommandContext, change: Change) -> CommandResult:
        """Commit at once, as a concurrent writer's commit does."""
        events = [event for aggregate in change.aggregates for event in aggregate.collect_events()]
        if not events:
            raise ValueError("a change must record at least one event")
        receipt_key = None
        if context.idempotency is not None:
            receipt_key = (context.tenant_id, context.idempotency.key)
            if receipt_key in self.receipts:
                raise DuplicateReceipt(context.idempotency.key)
        heads = {
            event.originator_id: len(self.streams.get(event.originator_id, [])) for event in events
        }
        for event in events:  # check every stream before writing any: all or nothing
            if event.originator_version != heads[event.originator_id] + 1:
                raise ConcurrencyConflict(f"aggregate {event.originator_id} changed meanwhile")
            heads[event.originator_id] += 1
        metadata = context.metadata() | {"occurred_at": events[0].timestamp.isoformat()}
        for event in events:
            self.streams.setdefault(event.originator_id, []).append(copy.deepcopy(event))
            self.log.append(_recorded(len(self.log) + 1, event, metadata))
        subject = change.subject
        result = CommandResult(subject.id, subject.version, len(self.log), change.fields)
        if receipt_key is not None and context.idempotency is not None:
            replayed = CommandResult(
                result.id, result.version, result.position, result.fields, replayed=True
            )
            self.receipts[receipt_key] = StoredReceipt(context.idempotency.fingerprint, replayed)
        return result

    def find_receipt(self, tenant_id: str, key: str) -> StoredReceipt | None:
        return self.receipts.get((tenant_id, key))

    def read_stream(
        self, aggregate_id: UUID, from_version: int, limit: int
    ) -> Sequence[RecordedEvent]:
        events = [e for e in self.log if e.aggregate_id == aggregate_id]
        return [e for e in events if e.version >= from_version][:limit]

    def aggregate_ids(self, kind: type[Aggregate]) -> Sequence[UUID]:
        return [
            aggregate_id
            for aggregate_id in self.streams
            if isinstance(self._replay(aggregate_id, None), kind)
        ]

    def types(self, tenant_id: str | None = None) -> list[str]:
        """The type of each logged event (of one tenant's commands), in log order."""
        return [e.type for e in self.log if tenant_id in (None, e.tenant_id)]

    def _replay(self, aggregate_id: UUID, version: int | None) -> Aggregate:
        events = self.streams.get(aggregate_id)
        if not events or (version is not None and not 1 <= version <= len(events)):
            raise NotFound(f"aggregate {aggregate_id} not found")
        aggregate: Aggregate | None = None
        for event in copy.deepcopy(events[:version]):
            aggregate = event.mutate(aggregate)
        assert aggregate is not None
        return aggregate


def _recorded(position: int, event: Event, metadata: dict[str, Any]) -> RecordedEvent:
    state = vars(event)
    data = {key: value for key, value in state.items() if key not in ENVELOPE}
    module = sys.modules[type(event).__module__]
    owner = getattr(module, type(event).__qualname__.split(".", 1)[0], None)
    return RecordedEvent(
        position=position,
        aggregate_id=event.originator_id,
        version=event.originator_version,
        type=type(event).__name__,
        category=str(getattr(owner, "category", "audit")),
        data=copy.deepcopy(data),
        metadata=dict(metadata),
        recorded_at=datetime.now(UTC),
        tenant_id=str(metadata.get("tenant_id") or ""),  # as the log's column has it
    )


class MemorySecrets:
    """Secrets made at random the first time they are named, as the database keeps them."""

    def __init__(self) -> None:
        self.kept: dict[str, bytes] = {}

    def __call__(self, name: str) -> bytes:
        return self.kept.setdefault(name, secrets.token_bytes(32))
