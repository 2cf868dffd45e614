"""What a projection is: named tables in a schema, and statements for each typed event.

The engine owns transactions, checkpoints and schemas; a projection only maps events to
rows, naming each column it writes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any, NamedTuple, Protocol

from projections.events import Event

READ_SCHEMA = "rm"  # stable views over the live generation of each projection
INSERT, UPDATE, INSERT_OR_ADD = "insert", "update", "insert_or_add"
_tuple = tuple.__new__  # makes a named tuple without its own __new__, a Python function


class Plus(NamedTuple):
    """A change that adds ``amount`` to the column's value instead of replacing it."""

    amount: Any


class Merged(NamedTuple):
    """A change that sets the keys of a JSON object in a jsonb column's value (``||``),
    keeping its other keys."""

    value: Mapping[str, Any]


class Among(NamedTuple):
    """A condition of an update: the column's value is the ``column`` of a row of ``table``
    (a table of the same projection) whose ``where`` columns equal the values given."""

    table: str
    column: str
    where: Mapping[str, Any]


class Subquery(NamedTuple):
    """The shape of an `Among`: ``column IN (SELECT selected FROM table WHERE key = …)``."""

    column: str
    table: str
    selected: str
    key: tuple[str, ...]


class Shape(NamedTuple):
    """What a statement does, by name: the engine sends runs of plain inserts by COPY, and
    tests apply statements to tables in memory.

    ``columns`` name the parameters in order; an update's ``key`` columns follow them
    (``unset`` ones must be NULL, without a parameter), then the ``among`` subqueries' keys;
    an insert-or-add's ``key`` is its conflict target; ``added`` columns add their value to
    the row's, ``merged`` ones merge a JSON object into it.
    """

    kind: str
    table: str
    columns: tuple[str, ...]
    key: tuple[str, ...] = ()
    unset: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    merged: tuple[str, ...] = ()
    among: tuple[Subquery, ...] = ()


class Statement(NamedTuple):
    """SQL with a ``{schema}`` placeholder for the projection's tables, its parameters,
    and its shape. (A named tuple: a rebuild makes one per event; docs/decisions/0007.)"""

    sql: str
    params: tuple[Any, ...]
    shape: Shape | None = None

    @classmethod
    def insert(cls, table: str, /, **values: Any) -> Statement:
        """A plain INSERT of one row."""
        sql, shape = _insert(table, tuple(values))
        return _tuple(cls, (sql, tuple(values.values()), shape))

    @classmethod
    def update(cls, table: str, where: Mapping[str, Any], /, **changes: Any) -> Statement:
        """UPDATE the rows whose ``where`` columns equal the values given (``None``: are
        NULL; an `Among`: are among another table's), setting each changed column (a `Plus`
        adds to it, a `Merged` merges into it)."""
        added: list[str] = []
        merged: list[str] = []
        params: list[Any] = []
        for column, value in changes.items():  # one pass each: a rebuild makes many
            if type(value) is Plus:
                added.append(column)
                value = value.amount
            elif type(value) is Merged:
                merged.append(column)
                value = json.dumps(value.value)
            params.append(value)
        key: list[str] = []
        unset: list[str] = []
        among: list[Subquery] = []
        for column, value in where.items():
            if value is None:
                unset.append(column)
            elif type(value) is Among:
                among.append(Subquery(column, value.table, value.column, tuple(value.where)))
            else:
                key.append(column)
                params.append(value)
        for subquery in among:
            params.extend(where[subquery.column].where.values())
        sql, shape = _update(
            table,
            tuple(changes),
            tuple(key),
            tuple(unset),
            tuple(added),
            tuple(merged),
            tuple(among),
        )
        return _tuple(cls, (sql, tuple(params), shape))

    @classmethod
    def insert_or_add(cls, table: str, key: tuple[str, ...], /, **values: Any) -> Statement:
        """INSERT a row, or where one with the same ``key`` exists, add its `Plus` values
        to that row's (its other columns stay)."""
        added = tuple(column for column, value in values.items() if type(value) is Plus)
        sql, shape = _insert_or_add(table, tuple(values), key, added)
        params = tuple(value.amount if type(value) is Plus else value for value in values.values())
        return _tuple(cls, (sql, params, shape))


@cache
def _insert(table: str, columns: tuple[str, ...]) -> tuple[str, Shape]:
    marks = ", ".join(["%s"] * len(columns))
    return (
        f"INSERT INTO {{schema}}.{table} ({', '.join(columns)}) VALUES ({marks})",
        Shape(INSERT, table, columns),
    )


@cache
def _update(
    table: str,
    columns: tuple[str, ...],
    key: tuple[str, ...],
    unset: tuple[str, ...],
    added: tuple[str, ...],
    merged: tuple[str, ...] = (),
    among: tuple[Subquery, ...] = (),
) -> tuple[str, Shape]:
    changes = ", ".join(
        f"{column} = {column} + %s"
        if column in added
        else f"{column} = {column} || %s::jsonb"
        if column in merged
        else f"{column} = %s"
        for column in columns
    )
    subqueries = [
        f"{s.column} IN (SELECT {s.selected} FROM {{schema}}.{s.table}"
        f" WHERE {' AND '.join(f'{c} = %s' for c in s.key)})"
        for s in among
    ]
    where = " AND ".join(
        [f"{column} = %s" for column in key] + [f"{c} IS NULL" for c in unset] + subqueries
    )
    return (
        f"UPDATE {{schema}}.{table} SET {changes} WHERE {where}",
        Shape(UPDATE, table, columns, key, unset, added, merged, among),
    )


@cache
def _insert_or_add(
    table: str, columns: tuple[str, ...], key: tuple[str, ...], added: tuple[str, ...]
) -> tuple[str, Shape]:
    marks = ", ".join(["%s"] * len(columns))
    sums = ", ".join(f"{column} = existing.{column} + excluded.{column}" for column in added)
    on_conflict = f"DO UPDATE SET {sums}" if added else "DO NOTHING"
    return (
        f"INSERT INTO {{schema}}.{table} AS existing ({', '.join(columns)}) VALUES ({marks})"
        f" ON CONFLICT ({', '.join(key)}) {on_conflict}",
        Shape(INSERT_OR_ADD, table, columns, key, (), added),
    )


class AddedColumn(NamedTuple):
    """A column a table gained after generations of it were created: added to them at
    start, filled with its default, so the read model need not be rebuilt for it."""

    table: str
    name: str
    definition: str  # type and default, e.g. "text NOT NULL DEFAULT 'text/plain'"


class NullableColumn(NamedTuple):
    """A column that was NOT NULL in generations created before and may now be NULL (a
    personal value an erasure redacts): its constraint is dropped from them at start, a
    change of the catalog only, so the read model need not be rebuilt for it."""

    table: str
    name: str


class Projection(Protocol):
    """A read model: its tables, and how each event changes them."""

    name: str
    tables: tuple[str, ...]

    @property
    def added_columns(self) -> tuple[AddedColumn, ...]:
        """Columns its tables gained since they were first created."""

    @property
    def nullable_columns(self) -> tuple[NullableColumn, ...]:
        """Columns of its tables that may be NULL since they were first created."""

    @property
    def event_types(self) -> frozenset[str] | None:
        """The types ``apply`` takes; ``None`` for every event."""

    def ddl(self) -> Iterable[str]:
        """CREATE statements for the tables and indexes, with ``{schema}`` placeholders."""

    def apply(self, event: Event) -> Iterable[Statement]:
        """The statements that apply one event (only called for ``event_types``, if given)."""
