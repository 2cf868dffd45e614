"""Identifiers of new aggregates and messages: UUIDv7, ordered by creation time.

Time-ordered ids make the log's primary key grow at its right edge instead of touching a
random page per insert; ``uuid_utils`` draws them without a system call per id
(decision 8).
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate
from uuid_utils.compat import uuid7


def new_id() -> UUID:
    """A fresh, unique, time-ordered id."""
    return uuid7()


class TimeOrderedAggregate(Aggregate):
    """An aggregate whose id is a `new_id`, unless its class derives ids otherwise."""

    create_id = staticmethod(new_id)
