"""Projections without a database: typed events numbered as the log numbers them, and
read-model tables in memory that apply statements by their shape."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID, uuid4

import msgspec

from domain.erasure import DataSubject
from domain.privacy import personal_event
from projections.base import INSERT, INSERT_OR_ADD, UPDATE, Projection, Shape, Statement
from projections.events import TYPED, Event, Metadata, SubjectErased

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
        self, kind: type[E], aggregate_id: UUID, /, metadata: Metadata | None = None, **fields: Any
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


DOMAIN_OF = {typed: domain for domain, typed in TYPED.items()}


def unreadable(event: E) -> E:
    """The event as a follower decodes it once its subject's keys are gone: each personal
    field ``None``."""
    personal = personal_event(DOMAIN_OF[type(event)])
    assert personal is not None, f"{type(event).__name__} has no personal fields"
    return msgspec.structs.replace(event, **dict.fromkeys(personal.fields))


def erasure(log: Log, subject: str, tenant: str | None = None) -> SubjectErased:
    """The tombstone of an erasure of ``subject`` (of the log's tenant unless given)."""
    tenant = tenant or log.tenant
    return log.event(
        SubjectErased,
        DataSubject.create_id(tenant, subject),
        log.metadata(tenant_id=tenant),
        tenant_id=tenant,
        subject=subject,
        reason="asked",
        by="key:k1",
    )


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
                self.update(shape, statement.params)
            else:
                assert shape.kind == INSERT_OR_ADD, shape
                same = [row for row in rows if all(row[c] == values[c] for c in shape.key)]
                if not same:
                    rows.append(values)
                for column in shape.added if same else ():
                    same[0][column] += values[column]

    def update(self, shape: Shape, params: tuple[Any, ...]) -> None:
        values = dict(zip(shape.columns, params, strict=False))
        rest = iter(params[len(shape.columns) :])
        key = {column: next(rest) for column in shape.key}
        among = {  # each subquery's column, and the values it selects
            s.column: {
                r.get(s.selected) for r in self.where(s.table, **{c: next(rest) for c in s.key})
            }
            for s in shape.among
        }
        assert next(rest, None) is None, "a parameter without a place"
        for row in self.rows[shape.table]:
            if (
                all(row.get(c) == v for c, v in key.items())
                and all(row.get(c) is None for c in shape.unset)
                and all(row.get(c) in selected for c, selected in among.items())
            ):
                for column, value in values.items():
                    if column in shape.added:
                        value = row[column] + value
                    elif column in shape.merged:  # JSON text, as projections write it
                        merged = json.loads(row[column]) | json.loads(value)
                        value = json.dumps(merged, separators=(",", ":"), ensure_ascii=False)
                    row[column] = value

    def one(self, table: str, **where: Any) -> dict[str, Any]:
        """The one row of ``table`` whose columns have these values."""
        (row,) = self.where(table, **where)
        return row

    def where(self, table: str, **where: Any) -> list[dict[str, Any]]:
        return [row for row in self.rows[table] if all(row.get(c) == v for c, v in where.items())]
