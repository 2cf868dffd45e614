"""Reading one aggregate's stored events, and its state as of a version or a time,
within the caller's tenant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from application.errors import NotFound
from application.ports import EventStore, RecordedEvent

MAX_EVENTS = 100_000
PRIVATE = ("_pending_events",)


@dataclass(frozen=True)
class StateAt:
    """An aggregate as it was, and the events that made it so."""

    aggregate_id: UUID
    kind: str
    version: int
    state: dict[str, Any]
    events: Sequence[RecordedEvent]


class Streams:
    """The raw event stream of any aggregate the tenant owns."""

    def __init__(self, store: EventStore) -> None:
        self._store = store

    def read(
        self, tenant_id: str, aggregate_id: UUID, from_version: int, limit: int
    ) -> Sequence[RecordedEvent]:
        first = self._store.read_stream(aggregate_id, 1, 1)
        if not first or first[0].tenant_id != tenant_id:
            raise NotFound(f"stream {aggregate_id} not found")
        if from_version <= 1 and limit == 1:
            return first
        return self._store.read_stream(aggregate_id, from_version, limit)

    def state_at(
        self,
        tenant_id: str,
        aggregate_id: UUID,
        version: int | None = None,
        as_of: datetime | None = None,
    ) -> StateAt:
        """The state at ``version``, or as of the time ``as_of`` (the latest by default);
        with both, at ``version`` if the aggregate had reached it by ``as_of``."""
        events = self.read(tenant_id, aggregate_id, 1, MAX_EVENTS)
        if as_of is not None:
            events = [e for e in events if e.recorded_at <= as_of]
            if not events:
                raise NotFound(f"stream {aggregate_id} did not exist yet at {as_of.isoformat()}")
        if version is not None:
            if version > len(events) or version < 1:
                raise NotFound(f"stream {aggregate_id} has no version {version}")
            events = events[:version]
        aggregate = self._store.get_at(aggregate_id, events[-1].version)
        state = {
            key.lstrip("_"): value for key, value in vars(aggregate).items() if key not in PRIVATE
        }
        return StateAt(aggregate_id, type(aggregate).__name__, aggregate.version, state, events)
