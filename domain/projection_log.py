"""Operational facts worth an audit trail: projection rebuilds, retries of parked events and
deliberately skipped events."""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.tenancy import SYSTEM_TENANT

__all__ = ["SYSTEM_TENANT", "ProjectionLog"]

PROJECTION_NAMESPACE = uuid5(NAMESPACE_URL, "https://chronicle.dev/projections")


class ProjectionLog(Aggregate):
    """The audit history of one projection."""

    category = "audit"

    @staticmethod
    def create_id(name: str) -> UUID:
        return uuid5(PROJECTION_NAMESPACE, name)

    @event("ProjectionRegistered")
    def __init__(self, name: str) -> None:
        self.name = name
        self.rebuilds = 0
        self.retries = 0
        self.skipped: list[int] = []

    @event("ProjectionRebuilt")
    def rebuilt(self, generation: int, position: int, events: int, seconds: float) -> None:
        self.rebuilds += 1

    @event("ProjectionParkedRetried")
    def parked_retried(self, aggregate_id: str | None, applied: int, still_parked: int) -> None:
        """Parked events (of one aggregate, or all) were applied again after a fix."""
        self.retries += 1

    @event("ProjectionEventSkipped")
    def event_skipped(self, position: int, error: str) -> None:
        self.skipped.append(position)
