"""What a projection is: named tables in a schema, and SQL statements for each event.

The engine owns transactions, checkpoints and schemas; a projection only maps events to rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from domain.events import RecordedEvent

READ_SCHEMA = "rm"  # stable views over the live generation of each projection


@dataclass(frozen=True)
class Statement:
    """SQL with a ``{schema}`` placeholder for the projection's tables, and its parameters."""

    sql: str
    params: tuple[Any, ...]


class Projection(Protocol):
    """A read model: its tables, and how each event changes them."""

    name: str
    tables: tuple[str, ...]

    @property
    def event_types(self) -> frozenset[str] | None:
        """The types ``apply`` takes; ``None`` for every event."""

    def ddl(self) -> Iterable[str]:
        """CREATE statements for the tables and indexes, with ``{schema}`` placeholders."""

    def apply(self, event: RecordedEvent) -> Iterable[Statement]:
        """The statements that apply one event (only called for ``event_types``, if given)."""
