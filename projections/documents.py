"""Read model of shared documents: the per-tenant list (newest first), each one's title,
content at its head, revision and collaborators.

The content follows the ops in the database: ``apply_text_op`` applies an op as
`domain.text_ot.apply` does (PostgreSQL counts a UTF-8 text's characters in code points,
as Python does), so an op costs one UPDATE and never a read of the document first.
A document's title, content and ops are personal: an erasure of the document leaves its
title and content NULL (an op whose values are gone leaves the content as it is: NULL,
once its document was erased); the table keeps no ops.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import Connection

from projections.base import READ_SCHEMA, AddedColumn, NullableColumn, Statement
from projections.erasure import erased_container
from projections.events import (
    DocumentArchived,
    DocumentCreated,
    DocumentRenamed,
    Event,
    OperationApplied,
    SubjectErased,
    names,
)
from projections.pages import before, page_of

TABLE = "documents"
# An op walks the text: a number keeps that many characters, a string inserts it, and
# {"d": n} skips n; what is left after the last component is kept. (Braces are doubled
# for the schema's formatting.)
APPLY_TEXT_OP = """
CREATE FUNCTION {schema}.apply_text_op(content text, op jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  component jsonb;
  at integer := 1;
  result text := '';
BEGIN
  FOR component IN SELECT value FROM jsonb_array_elements(op) LOOP
    IF jsonb_typeof(component) = 'number' THEN
      result := result || substr(content, at, component::integer);
      at := at + component::integer;
    ELSIF jsonb_typeof(component) = 'string' THEN
      result := result || (component #>> '{{}}');
    ELSE
      at := at + (component ->> 'd')::integer;
    END IF;
  END LOOP;
  RETURN result || substr(content, at);
END
$$
"""
APPLY = (
    "UPDATE {schema}.documents SET content = {schema}.apply_text_op(content, %s::jsonb),"
    " revision = %s, version = %s, updated_at = %s,"
    " collaborators = CASE WHEN collaborators ? %s THEN collaborators"
    " ELSE collaborators || jsonb_build_array(%s::text) END"
    " WHERE id = %s"
)


class DocumentsProjection:
    """One row per document, its content kept at the head."""

    name = "documents"
    tables: tuple[str, ...] = (TABLE,)
    added_columns: tuple[AddedColumn, ...] = ()
    nullable_columns: tuple[NullableColumn, ...] = (
        NullableColumn(TABLE, "title"),
        NullableColumn(TABLE, "content"),
    )
    event_types = names(
        DocumentCreated, OperationApplied, DocumentRenamed, DocumentArchived, SubjectErased
    )

    def ddl(self) -> Iterable[str]:
        yield APPLY_TEXT_OP
        yield (
            "CREATE TABLE {schema}.documents ("
            " id uuid PRIMARY KEY, tenant_id text NOT NULL, title text,"
            " content text, revision integer NOT NULL DEFAULT 0,"
            " collaborators jsonb NOT NULL DEFAULT '[]', archived boolean NOT NULL DEFAULT false,"
            " version integer NOT NULL, created_at timestamptz NOT NULL,"
            " updated_at timestamptz NOT NULL, created_position bigint NOT NULL)"
        )
        yield "CREATE INDEX ON {schema}.documents (tenant_id, created_position DESC)"

    def apply(self, event: Event) -> Iterable[Statement]:
        at, version, this = event.recorded_at, event.version, {"id": event.aggregate_id}
        match event:
            case DocumentCreated(tenant_id=tenant, title=title, content=content):
                yield Statement.insert(
                    TABLE,
                    id=event.aggregate_id,
                    tenant_id=tenant,
                    title=title,
                    content=content,
                    revision=0,
                    collaborators="[]",
                    archived=False,
                    version=version,
                    created_at=at,
                    updated_at=at,
                    created_position=event.position,
                )
            case OperationApplied(op=op, revision=revision, author=author):
                ops = None if op is None else json.dumps(op)  # None: applies as no op
                params = (ops, revision, version, at, author, author, event.aggregate_id)
                yield Statement(APPLY, params)
            case DocumentRenamed(title=title):
                yield Statement.update(TABLE, this, title=title, version=version, updated_at=at)
            case DocumentArchived():
                yield Statement.update(TABLE, this, archived=True, version=version, updated_at=at)
            case SubjectErased(tenant_id=tenant):
                # The row's version and times stay: they are the document's.
                if (erased := erased_container(event, "document")) is not None:
                    where = {"id": erased, "tenant_id": tenant}
                    yield Statement.update(TABLE, where, title=None, content=None)


@dataclass(frozen=True)
class DocumentRow:
    """A document as listed: its content's length, not the content."""

    id: UUID
    title: str | None  # None: erased, as is the content
    length: int | None  # characters (code points)
    revision: int
    collaborators: list[str]
    archived: bool
    version: int
    created_at: datetime
    updated_at: datetime


COLUMNS = (
    "id, title, char_length(content) AS length, revision, collaborators, archived, version,"
    " created_at, updated_at"
)


def _row(values: dict[str, Any]) -> DocumentRow:
    return DocumentRow(**{k: values[k] for k in DocumentRow.__dataclass_fields__})


def list_documents(
    conn: Connection[dict[str, Any]], tenant_id: str, after: int | None, limit: int
) -> tuple[list[DocumentRow], int | None]:
    """Newest first; the cursor is the creation position of the last document returned."""
    rows = conn.execute(
        f"SELECT {COLUMNS}, created_position FROM {READ_SCHEMA}.documents"
        " WHERE tenant_id = %s AND created_position < %s"
        " ORDER BY created_position DESC LIMIT %s",
        (tenant_id, before(after), limit + 1),
    ).fetchall()
    page, cursor = page_of(rows, limit, "created_position")
    return [_row(r) for r in page], cursor
