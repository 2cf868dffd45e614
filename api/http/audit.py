"""HTTP resource for the audit trail: who did what, when, from which key (own tenant)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Response

from api.http.auth import requires
from api.http.fields import NO_NUL
from api.http.reads import (
    READ_MODEL,
    After,
    MinPosition,
    ReadModels,
    next_cursor_of,
    parse_cursor,
)
from application.context import Principal
from domain.values import in_utc
from projections.audit import AuditQuery, audit_entries

Time = Annotated[datetime | None, QueryParameter(description="RFC 3339 time with its offset")]
Filter = Annotated[str | None, QueryParameter(max_length=200, pattern=NO_NUL)]
AuditLimit = Annotated[int, QueryParameter(ge=1, le=500, description="Page size, at most 500")]


class AuditEntry(msgspec.Struct):
    position: int
    at: datetime
    actor: str
    key_id: str | None
    action: str
    target: str | None
    outcome: str
    status: int | None
    reason: str | None
    request_id: str | None
    trace_id: str | None
    command_id: UUID
    events: int


class AuditPage(msgspec.Struct):
    items: list[AuditEntry]
    next: str | None


def entry_of(row: dict[str, Any]) -> AuditEntry:
    return AuditEntry(**{k: v for k, v in row.items() if k != "tenant_id"})


class AuditController(Controller):
    path = "/v1/audit"
    tags = ["audit"]

    @get("/", guards=[requires("audit:read")], operation_id="listAudit", opt=READ_MODEL)
    async def entries(
        self,
        request: Request[Principal, Any, Any],
        read_models: NamedDependency[ReadModels],
        actor: Filter = None,
        action: Filter = None,
        target: Filter = None,
        since: Time = None,
        until: Time = None,
        after: After = None,
        limit: AuditLimit = 100,
        min_position: MinPosition = None,
    ) -> Response[AuditPage]:
        """Every command of the tenant, accepted or denied, oldest first: actor (``key:…``),
        key id, action (the command), target, outcome, status, reason, request and trace ids.
        """
        query = AuditQuery(
            request.user.tenant_id,
            actor,
            action,
            target,
            since and in_utc("since", since),  # in range: checked by strict_queries
            until and in_utc("until", until),
        )
        cursor = parse_cursor(after)
        (rows, next_cursor), headers = await read_models.query(
            ("audit",),
            lambda conn: audit_entries(conn, query, cursor, limit),
            min_position,
        )
        page = AuditPage([entry_of(r) for r in rows], next_cursor_of(next_cursor))
        return Response(page, headers=headers)
