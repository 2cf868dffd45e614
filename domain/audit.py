"""Refused commands as facts: who tried what, on which target, and why it was refused."""

from __future__ import annotations

from eventsourcing.domain import event

from domain.ids import TimeOrderedAggregate

DENIAL_REASONS = {
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    429: "rate-limited",
}


class AccessDenial(TimeOrderedAggregate):
    """One refused command. Accepted commands need no such record: their events carry
    the same attribution in their metadata."""

    category = "audit"

    @event("AccessDenied")
    def __init__(
        self,
        actor: str,
        key_id: str | None,
        command: str,
        target: str | None,
        status: int,
        reason: str,
        method: str,
        path: str,
    ) -> None:
        self.actor = actor
        self.key_id = key_id
        self.command = command
        self.target = target
        self.status = status
        self.reason = reason
        self.method = method
        self.path = path
