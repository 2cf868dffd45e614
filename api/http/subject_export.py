"""HTTP resource for a data subject's export: every personal value of the caller's tenant
bound to the subject, with the events it came from (the right of access)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import anyio.to_thread
import msgspec
from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import PathParameter

from api.http.auth import requires
from application.context import Principal
from application.subject_exports import ExportedValue, SubjectExport, SubjectExports
from domain.erasure import SUBJECT_PATTERN

SubjectPath = Annotated[
    str,
    PathParameter(
        pattern=SUBJECT_PATTERN,
        max_length=141,
        description="A data subject: kind:id, kind one of user, conversation, document",
    ),
]


class ExportedValueOut(msgspec.Struct):
    position: int
    type: str
    aggregate_id: UUID
    version: int
    recorded_at: datetime
    fields: dict[str, Any]
    unreadable: list[str]


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
        list(value.unreadable),
    )


def export_of(exports: SubjectExports, tenant_id: str, subject: str) -> SubjectExportOut:
    """The subject's export, read whole (on a worker thread: it reads the database)."""
    found = exports.export(tenant_id, subject)
    values = [value_out(value) for value in found.values]
    return SubjectExportOut(found.subject, found.tenant_id, found.exported_at, values)


def export_json(found: SubjectExport) -> Iterator[bytes]:
    """The JSON of `SubjectExportOut` for ``found``, in pieces as its values are read:
    the same bytes as the whole encoded at once, in memory one value at a time."""
    head = SubjectExportOut(found.subject, found.tenant_id, found.exported_at, [])
    opening = msgspec.json.encode(head)
    yield opening[: -len(b"[]}")] + b"["
    separator = b""
    for value in found.values:
        yield separator + msgspec.json.encode(value_out(value))
        separator = b","
    yield b"]}"


class SubjectExportController(Controller):
    path = "/v1/subjects"
    tags = ["privacy"]

    @get("/{subject:str}/export", guards=[requires("admin")], operation_id="exportSubject")
    async def export(
        self,
        request: Request[Principal, Any, Any],
        subject: SubjectPath,
        subject_exports: NamedDependency[SubjectExports],
    ) -> SubjectExportOut:
        """Every personal value of the tenant bound to a data subject, oldest first, with
        the event it came from; ``fields`` holds the event's values sealed for the subject
        (with other subjects' or alone), ``unreadable`` names those that no longer open.
        404 when the tenant holds no value of the subject."""
        return await anyio.to_thread.run_sync(
            export_of, subject_exports, request.user.tenant_id, subject
        )
