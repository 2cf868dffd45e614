"""HTTP resource for a data subject's export: every personal value of the caller's tenant
bound to the subject, with the events it came from (the right of access)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from itertools import chain
from typing import Any
from uuid import UUID

import anyio.to_thread
import msgspec
from litestar import Controller, MediaType, Request, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath
from litestar.response import Stream

from api.http.subjects import ADMIN, SubjectName
from application.context import Principal
from application.subject_exports import ExportedValue, SubjectExport, SubjectExports

CHUNK_BYTES = 64 * 1024


class ExportedValueOut(msgspec.Struct):
    position: int
    type: str
    aggregate_id: UUID
    version: int
    recorded_at: datetime
    fields: dict[str, Any]
    unreadable: dict[str, str]


class SubjectExportOut(msgspec.Struct):
    subject: str
    tenant: str
    exported_at: datetime
    values: list[ExportedValueOut]


def value_out(value: ExportedValue) -> ExportedValueOut:
    return ExportedValueOut(
        value.position,
        value.type,
        value.aggregate_id,
        value.version,
        value.recorded_at,
        value.fields,
        dict(value.unreadable),
    )


def export_json(found: SubjectExport, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """The JSON of `SubjectExportOut` for ``found``, in pieces of about ``chunk_bytes``
    as its values are read: the bytes of the whole encoded at once, never all in memory."""
    head = SubjectExportOut(found.subject, found.tenant_id, found.exported_at, [])
    chunk = bytearray(msgspec.json.encode(head)[: -len(b"]}")])
    encode, separator = msgspec.json.Encoder().encode_into, b""
    for value in found.values:
        chunk += separator
        encode(value_out(value), chunk, -1)
        separator = b","
        if len(chunk) >= chunk_bytes:
            yield bytes(chunk)
            chunk.clear()
    yield bytes(chunk + b"]}")


def begun(exports: SubjectExports, tenant_id: str, subject: str) -> Iterator[bytes]:
    """The export's JSON pieces, the first one read before the answer starts: a small
    export is read whole, and an error reading it is answered as a problem, not as an
    answer cut short."""
    pieces = export_json(exports.export(tenant_id, subject))
    return chain((next(pieces),), pieces)


class SubjectExportController(Controller):
    path = "/v1/subjects"
    tags = ["privacy"]

    @get(
        "/{subject:str}/export",
        guards=ADMIN,
        operation_id="exportSubject",
        responses={200: ResponseSpec(SubjectExportOut, description="The subject's export")},
    )
    async def export(
        self,
        request: Request[Principal, Any, Any],
        subject: FromPath[SubjectName],
        subject_exports: NamedDependency[SubjectExports],
    ) -> Stream:
        """Every personal value of the tenant bound to a data subject, with its event.

        Oldest first; ``fields`` holds the event's values sealed for the subject (alone or
        with other subjects), ``unreadable`` names those that no longer open, each with why
        (``erased``: a subject it was bound to was erased); 404 when the
        tenant holds no value of the subject. Streamed as it is read: an answer cut short
        is not valid JSON.
        """
        pieces = await anyio.to_thread.run_sync(
            begun, subject_exports, request.user.tenant_id, subject
        )
        return Stream(pieces, media_type=MediaType.JSON)
