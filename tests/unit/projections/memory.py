"""Projections without a database: typed events numbered as the log numbers them, and
read-model tables in memory that apply statements by their shape."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID, uuid4

from projections.base import INSERT, INSERT_OR_ADD, UPDATE, Projection, Statement
from projections.events import Event, Metadata

E = TypeVar("E", bound=Event)
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class Log:
    """Hands out typed events: positions in order, versions per aggregate, a clock that
    ticks a second per event, metadata of one command per event unless given."""

    def __init__(self, tenant: str = "acme") -> None:
        self.tenant = tenant
        self.position = 0
        self.now = START
        self.versions: dict[UUID, int] = defaultdict(int)

    def event(
        self, kind: type[E], aggregate_id: UUID, metadata: Metadata | None = None, **fields: Any
    ) -> E:
        self.position += 1
        self.now += timedelta(seconds=1)
        self.versions[aggregate_id] += 1
        return kind(
            position=self.position,
            aggregate_id=aggregate_id,
            version=self.versions[aggregate_id],
            recorded_at=self.now,
            metadata=metadata or self.metadata(),
            **fields,
        )

    def metadata(self, **fields: Any) -> Metadata:
        command_id = str(uuid4())
        given: dict[str, Any] = {
            "tenant_id": self.tenant,
            "actor": "key:k1",
            "command": "test.command",
            "command_id": command_id,
            "correlation_id": command_id,
            "causation_id": command_id,
        }
        return Metadata(**(given | fields))


class Tables:
    """Read-model rows in memory, changed as the statements' SQL would change them (a
    column never written is missing from its row: NULL, read with ``get``)."""

    def __init__(self) -> None:
        self.rows: dict[str, list[dict[str, Any]]] = defaultdict(list)

    def apply(self, projection: Projection, *events: Event) -> Tables:
        for event in events:
            if projection.event_types is None or type(event).__name__ in projection.event_types:
                self.run(projection.apply(event))
        return self

    def run(self, statements: Iterable[Statement]) -> None:
        for statement in statements:
            shape = statement.shape
            assert shape is not None, f"a statement without a shape: {statement.sql}"
            assert statement.sql.count("%s") == len(statement.params), statement.sql
            values = dict(zip(shape.columns, statement.params, strict=False))
            rows = self.rows[shape.table]
            if shape.kind == INSERT:
                rows.append(values)
            elif shape.kind == UPDATE:
                key = dict(zip(shape.key, statement.params[len(shape.columns) :], strict=True))
                for row in rows:
                    if all(row.get(c) == v for c, v in key.items()) and all(
                        row.get(c) is None for c in shape.unset
                    ):
                        for column, value in values.items():
                            row[column] = row[column] + value if column in shape.added else value
            else:
                assert shape.kind == INSERT_OR_ADD, shape
                same = [row for row in rows if all(row[c] == values[c] for c in shape.key)]
                if not same:
                    rows.append(values)
                for column in shape.added if same else ():
                    same[0][column] += values[column]

    def one(self, table: str, **where: Any) -> dict[str, Any]:
        """The one row of ``table`` whose columns have these values."""
        (row,) = self.where(table, **where)
        return row

    def where(self, table: str, **where: Any) -> list[dict[str, Any]]:
        return [row for row in self.rows[table] if all(row.get(c) == v for c, v in where.items())]
