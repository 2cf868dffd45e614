"""Snapshots of long aggregates, so a load replays at most an interval of events.

A snapshot is a cache of state the log already holds: it never decides anything, and
losing one (or the whole table) only makes loads slower.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any
from uuid import UUID

import structlog
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

log = structlog.get_logger(__name__)

SNAPSHOT_INTERVAL = 100

TakeSnapshot = Callable[[UUID, int], None]


def crossed(interval: int, versions: Iterable[int]) -> bool:
    """Whether any of ``versions`` is a multiple of ``interval``."""
    return any(version % interval == 0 for version in versions)


class Snapshotter:
    """Snapshots each aggregate whose commit reached a multiple of the interval."""

    def __init__(self, take: TakeSnapshot, interval: int = SNAPSHOT_INTERVAL) -> None:
        self._take = take
        self.interval = interval

    def after_commit(self, aggregates: Sequence[Aggregate], events: Sequence[Any]) -> None:
        """Snapshot the committed aggregates that are due; never fails the command."""
        for aggregate in self._due(aggregates, events):
            self.take(aggregate.id, aggregate.version)

    def due(self, events: Sequence[Any]) -> bool:
        """Whether committing these events makes any of their aggregates due a snapshot."""
        return crossed(self.interval, (event.originator_version for event in events))

    def _due(self, aggregates: Sequence[Aggregate], events: Sequence[Any]) -> Iterator[Aggregate]:
        for aggregate in aggregates:
            versions = (e.originator_version for e in events if e.originator_id == aggregate.id)
            if crossed(self.interval, versions):
                yield aggregate

    def take(self, aggregate_id: UUID, version: int) -> None:
        """Store the aggregate's state at ``version``, rebuilt from the log (not from the
        command's copy); a snapshot already taken is left as it is."""
        try:
            self._take(aggregate_id, version)
        except IntegrityError:
            pass
        except Exception as error:
            # The command has committed; a missing snapshot only costs a longer replay.
            log.warning("snapshot not stored", aggregate_id=str(aggregate_id), error=str(error))
