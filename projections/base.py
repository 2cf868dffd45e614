"""What a projection is: named tables in a schema, and SQL statements for each event.

The engine owns transactions, checkpoints and schemas; a projection only maps events to rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any, NamedTuple, Protocol

from domain.events import RecordedEvent

READ_SCHEMA = "rm"  # stable views over the live generation of each projection


class Statement(NamedTuple):
    """SQL with a ``{schema}`` placeholder for the projection's tables, and its parameters.
    (A named tuple: a rebuild makes one per event, and tuples are the cheapest to make.)"""

    sql: str
    params: tuple[Any, ...]
    copy: CopyInto | None = None  # plain inserts: where the same rows may go by COPY

    @classmethod
    def insert(cls, table: str, columns: tuple[str, ...], values: tuple[Any, ...]) -> Statement:
        """A plain INSERT of one row, which the engine may send with its neighbours as COPY."""
        sql, into = _insert(table, columns)
        return cls(sql, values, into)


class CopyInto(NamedTuple):
    """The table and columns of a plain insert, for sending a run of them as one COPY."""

    table: str
    columns: tuple[str, ...]


@cache
def _insert(table: str, columns: tuple[str, ...]) -> tuple[str, CopyInto]:
    marks = ", ".join(["%s"] * len(columns))
    return (
        f"INSERT INTO {{schema}}.{table} ({', '.join(columns)}) VALUES ({marks})",
        CopyInto(table, columns),
    )


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
