"""HTTP resource for shared documents: create, submit ops (transformed against what came
since their base revision), rename, archive; read one at any revision, its ops, and the
tenant's list. A user token reaches only the documents it names, with ``documents:write``.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import Response

from api.http.auth import requires
from api.http.commands import Changed, answer
from api.http.fields import NO_NUL, Title
from api.http.reads import (
    READ_MODEL,
    After,
    IfNoneMatch,
    Limit,
    MinPosition,
    ReadModels,
    next_cursor_of,
    one,
    parse_cursor,
)
from application.context import CommandContext, Principal
from application.documents import AppliedOp, Documents, DocumentState
from application.errors import Forbidden, NotFound
from domain.document import (
    AUTHOR_MAX_CHARS,
    CONTENT_MAX_CHARS,
    OP_MAX_COMPONENTS,
    SOURCE_MAX_CHARS,
)
from domain.values import INT64_MAX
from projections.documents import DocumentRow, list_documents

READS = ("documents",)
WRITE = [requires("commands:write")]
EDIT = [requires("commands:write", user="documents:write")]
READ_ONE = [requires("read", user="documents:write")]
READ = [requires("read")]

Component = int | str | dict[str, int]
OpBody = Annotated[
    list[Component],
    msgspec.Meta(
        max_length=OP_MAX_COMPONENTS,
        description='Components: retain n (a positive number), insert "text", delete {"d": n};'
        " counted in Unicode code points",
    ),
]
WholeNumber = Annotated[int, msgspec.Meta(ge=0, le=INT64_MAX)]


class CreateDocument(msgspec.Struct, forbid_unknown_fields=True):
    title: Title
    content: Annotated[str, msgspec.Meta(max_length=CONTENT_MAX_CHARS, pattern=NO_NUL)] = ""


class SubmitOperation(msgspec.Struct, forbid_unknown_fields=True):
    base_revision: WholeNumber
    op: OpBody
    author: (
        Annotated[str, msgspec.Meta(min_length=1, max_length=AUTHOR_MAX_CHARS, pattern=NO_NUL)]
        | None
    ) = None
    source: Annotated[str, msgspec.Meta(max_length=SOURCE_MAX_CHARS, pattern=NO_NUL)] = ""
    seq: WholeNumber = 0
    run_id: UUID | None = None  # an agent run editing the document: the op is the run's


class RenameDocument(msgspec.Struct, forbid_unknown_fields=True):
    title: Title


class DocumentCreated(msgspec.Struct):
    id: UUID
    revision: int
    version: int
    position: int


class OperationPage(msgspec.Struct):
    items: list[AppliedOp]
    next: str | None


class DocumentPage(msgspec.Struct):
    items: list[DocumentRow]
    next: str | None


def reachable(principal: Principal, document_id: UUID) -> str:
    """The tenant whose document a principal may reach: any of its tenant's with an API
    key; with a user token, only one the token names (any other is `NotFound`, as another
    tenant's is)."""
    if principal.user_id is not None and str(document_id) not in principal.documents:
        raise NotFound(f"document {document_id} not found")
    return principal.tenant_id


def author_of(principal: Principal, named: str | None) -> str:
    """Who made an op: a user token's own user; for an API key, the author it names (an
    agent, a run), or the key's actor."""
    if principal.user_id is None:
        return named or principal.actor
    if named not in (None, principal.user_id):
        raise Forbidden("a user token edits as its own user")
    return principal.user_id


class DocumentsController(Controller):
    path = "/v1/documents"
    tags = ["documents"]

    @post(
        "/",
        guards=WRITE,
        status_code=201,
        operation_id="createDocument",
        opt={"command": "document.create"},
    )
    async def create(
        self,
        context: NamedDependency[CommandContext],
        documents: NamedDependency[Documents],
        data: JSONBody[CreateDocument],
    ) -> Response[DocumentCreated]:
        """Create a shared text document at revision 0."""
        result = await documents.create(context, data.title, data.content)
        body = DocumentCreated(result.id, 0, result.version, result.position)
        return answer(body, result, status_code=201, location=f"/v1/documents/{result.id}")

    @post(
        "/{document_id:uuid}/operations",
        guards=EDIT,
        status_code=200,
        operation_id="submitOperation",
        opt={"command": "document.submit_op"},
    )
    async def submit(
        self,
        request: Request[Principal, Any, Any],
        document_id: FromPath[UUID],
        context: NamedDependency[CommandContext],
        documents: NamedDependency[Documents],
        data: JSONBody[SubmitOperation],
    ) -> Response[AppliedOp]:
        """Apply an op made on `base_revision`: transformed against every op committed
        since, appended, and answered as applied (`409` for a base ahead of the head or an
        archived document). Resent with the same Idempotency-Key, it applies once."""
        reachable(request.user, document_id)
        author = author_of(request.user, data.author)
        if data.run_id is not None and request.user.user_id is not None:
            raise Forbidden("a user token edits as its own user, not as an agent run")
        result, applied = await documents.submit(
            context,
            document_id,
            data.op,
            data.base_revision,
            author,
            data.source,
            data.seq,
            data.run_id,
        )
        return answer(applied, result)

    @post(
        "/{document_id:uuid}/rename",
        guards=WRITE,
        status_code=200,
        operation_id="renameDocument",
        opt={"command": "document.rename"},
    )
    async def rename(
        self,
        document_id: FromPath[UUID],
        context: NamedDependency[CommandContext],
        expected_version: NamedDependency[int | None],
        documents: NamedDependency[Documents],
        data: JSONBody[RenameDocument],
    ) -> Response[Changed]:
        """Rename a document."""
        result = await documents.rename(context, document_id, data.title, expected_version)
        return answer(Changed.of(result), result)

    @post(
        "/{document_id:uuid}/archive",
        guards=WRITE,
        status_code=200,
        operation_id="archiveDocument",
        opt={"command": "document.archive"},
    )
    async def archive(
        self,
        document_id: FromPath[UUID],
        context: NamedDependency[CommandContext],
        expected_version: NamedDependency[int | None],
        documents: NamedDependency[Documents],
    ) -> Response[Changed]:
        """Archive a document; later ops and renames are refused with 409."""
        result = await documents.archive(context, document_id, expected_version)
        return answer(Changed.of(result), result)

    @get("/", guards=READ, operation_id="listDocuments", opt=READ_MODEL)
    async def list_documents(
        self,
        request: Request[Principal, Any, Any],
        read_models: NamedDependency[ReadModels],
        after: After = None,
        limit: Limit = 50,
        min_position: MinPosition = None,
    ) -> Response[DocumentPage]:
        """The tenant's documents, newest first (each with its length, not its content)."""
        tenant, cursor = request.user.tenant_id, parse_cursor(after)
        (rows, next_cursor), headers = await read_models.query(
            READS, lambda conn: list_documents(conn, tenant, cursor, limit), min_position
        )
        return Response(DocumentPage(rows, next_cursor_of(next_cursor)), headers=headers)

    @get("/{document_id:uuid}", guards=READ_ONE, operation_id="getDocument")
    async def get_one(
        self,
        request: Request[Principal, Any, Any],
        document_id: FromPath[UUID],
        documents: NamedDependency[Documents],
        revision: Annotated[
            int | None,
            QueryParameter(ge=0, le=INT64_MAX, description="The revision to read; none: the head"),
        ] = None,
        if_none_match: IfNoneMatch = None,
    ) -> Response[DocumentState]:
        """The document at its head, or as it was at `revision` (from the log, so an op
        just answered is in it), with its version as ETag."""
        tenant = reachable(request.user, document_id)
        state = await asyncio.to_thread(documents.at, tenant, document_id, revision)
        return one(state, state.version, {}, if_none_match)

    @get("/{document_id:uuid}/operations", guards=READ_ONE, operation_id="listOperations")
    async def operations(
        self,
        request: Request[Principal, Any, Any],
        document_id: FromPath[UUID],
        documents: NamedDependency[Documents],
        from_revision: Annotated[
            int,
            QueryParameter(
                ge=0, le=INT64_MAX, description="List the ops after this revision (0: all)"
            ),
        ] = 0,
        limit: Limit = 100,
    ) -> Response[OperationPage]:
        """The document's ops after `from_revision`, oldest first, as applied; `next` is
        the `from_revision` of the next page."""
        tenant = reachable(request.user, document_id)
        found = await asyncio.to_thread(
            documents.operations, tenant, document_id, from_revision, limit
        )
        more = len(found) == limit
        page = OperationPage(found, str(found[-1].revision) if more else None)
        return Response(page)
