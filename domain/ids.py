"""Identifiers of new aggregates and messages: UUIDv7, ordered by creation time.

Time-ordered ids make the log's primary key grow at its right edge instead of touching a
random page per insert, and ``uuid_utils`` draws them from a generator seeded once rather
than a ``getrandom`` system call per id (which also hands the GIL to another thread).
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
