"""Reading the raw stored events of one aggregate, within the caller's tenant."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from application.errors import NotFound
from application.ports import EventStore, RecordedEvent


class Streams:
    """The raw event stream of any aggregate the tenant owns."""

    def __init__(self, store: EventStore) -> None:
        self._store = store

    def read(
        self, tenant_id: str, aggregate_id: UUID, from_version: int, limit: int
    ) -> Sequence[RecordedEvent]:
        first = self._store.read_stream(aggregate_id, 1, 1)
        if not first or first[0].metadata.get("tenant_id") != tenant_id:
            raise NotFound(f"stream {aggregate_id} not found")
        if from_version <= 1 and limit == 1:
            return first
        return self._store.read_stream(aggregate_id, from_version, limit)
