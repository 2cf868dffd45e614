"""Use cases of shared documents: create, submit an op (transformed against every op
committed since its base revision), rename, archive; and what only the log can answer
at once: a document at any revision, and its ops in order.

The ops since a base are read from the document's own stream, so an op is decided on
the log's truth, never on a read model that may lag.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast
from uuid import UUID

from application.commands import CommandRunner, check_expected_version
from application.context import CommandContext
from application.errors import NotFound
from application.ports import Change, CommandResult, EventStore, RecordedEvent
from application.tenancy import load_owned
from domain.agent_run import AgentRun
from domain.document import Document
from domain.errors import InvalidValue
from domain.text_ot import Op

APPLIED = "OperationApplied"
PAGE = 1000


@dataclass(frozen=True)
class AppliedOp:
    """An op as the log holds it: applied at ``revision``, made on ``base_revision``."""

    revision: int
    base_revision: int
    op: Op
    author: str
    source: str
    seq: int
    version: int  # the document's version it made
    position: int

    @classmethod
    def of(cls, event: RecordedEvent) -> AppliedOp:
        data: dict[str, Any] = event.data
        return cls(
            data["revision"],
            data["base_revision"],
            cast(Op, data["op"]),
            data["author"],
            data.get("source", ""),
            data.get("seq", 0),
            event.version,
            event.position,
        )


@dataclass(frozen=True)
class DocumentState:
    """A document as it was at one revision (or is at its head)."""

    id: UUID
    title: str
    content: str
    revision: int
    archived: bool
    version: int


class Documents:
    """Command handlers of documents, and the reads that come from the log."""

    def __init__(self, store: EventStore, runner: CommandRunner) -> None:
        self._store = store
        self._runner = runner

    async def create(self, context: CommandContext, title: str, content: str) -> CommandResult:
        def decide() -> Change:
            document = Document.create(context.tenant_id, title, content)
            return Change((document,), document)

        return await self._runner.run(context, decide, decide_blocks=False)

    async def submit(
        self,
        context: CommandContext,
        document_id: UUID,
        op: object,
        base_revision: int,
        author: str,
        source: str = "",
        seq: int = 0,
        run_id: UUID | None = None,
    ) -> tuple[CommandResult, AppliedOp]:
        """Apply an op made on ``base_revision``, transformed against the ops since; the
        result and the op as applied. A conflict with a concurrent op retries the whole
        decision, so the op is transformed against that one too. An op of an agent run
        (``run_id``: a running one that names this document) is authored by the run."""

        def decide() -> Change:
            by = author if run_id is None else self._run_editing(context, run_id, document_id)
            document = self._load(context.tenant_id, document_id)
            behind = 0 <= base_revision <= document.revision
            history = (
                self._ops_between(document_id, base_revision, document.revision) if behind else []
            )
            document.submit(op, base_revision, by, [o.op for o in history], source, seq)
            return Change((document,), document)

        result = await self._runner.run(context, decide, retry_on_conflict=True)
        # In a thread: a query on the caller's loop would stall every socket it serves.
        (event,) = await asyncio.to_thread(self._store.read_stream, result.id, result.version, 1)
        return result, AppliedOp.of(event)

    async def rename(
        self,
        context: CommandContext,
        document_id: UUID,
        title: str,
        expected_version: int | None = None,
    ) -> CommandResult:
        def decide() -> Change:
            document = self._load(context.tenant_id, document_id)
            check_expected_version(document, expected_version)
            document.rename(title)
            return Change((document,), document)

        return await self._runner.run(context, decide, expected_version=expected_version)

    async def archive(
        self, context: CommandContext, document_id: UUID, expected_version: int | None = None
    ) -> CommandResult:
        def decide() -> Change:
            document = self._load(context.tenant_id, document_id)
            check_expected_version(document, expected_version)
            document.archive()
            return Change((document,), document)

        return await self._runner.run(context, decide, expected_version=expected_version)

    def at(self, tenant_id: str, document_id: UUID, revision: int | None = None) -> DocumentState:
        """The document at its head, or as it was at ``revision`` (loaded from its latest
        snapshot before then); `NotFound` for a revision it has not reached."""
        head = self._load(tenant_id, document_id)
        if revision is None or revision == head.revision:
            return _state(head)
        if not 0 <= revision < head.revision:
            raise NotFound(f"document {document_id} has no revision {revision}")
        version = self._version_before(document_id, revision + 1)
        return _state(cast(Document, self._store.get_at(document_id, version)))

    def operations(
        self, tenant_id: str, document_id: UUID, after_revision: int, limit: int
    ) -> list[AppliedOp]:
        """Up to ``limit`` ops after ``after_revision``, oldest first."""
        self._load(tenant_id, document_id)
        found: list[AppliedOp] = []
        for applied in self._scan(document_id, after_revision):
            found.append(applied)
            if len(found) == limit:
                break
        return found

    def _ops_between(self, document_id: UUID, after: int, upto: int) -> list[AppliedOp]:
        """The ops after revision ``after`` up to ``upto``, the revision the document was
        loaded at (later ones, committed since, make its commit conflict and retry)."""
        ops: list[AppliedOp] = []
        if upto > after:
            for applied in self._scan(document_id, after):
                ops.append(applied)
                if applied.revision == upto:
                    break
        return ops

    def _scan(self, document_id: UUID, after_revision: int) -> Iterator[AppliedOp]:
        """The ops after ``after_revision``, read page by page from the stream. The op
        of revision r is at version r + 1 or later (renames take versions too), so the
        read starts there."""
        version = after_revision + 2
        while True:
            page: Sequence[RecordedEvent] = self._store.read_stream(document_id, version, PAGE)
            for event in page:
                if event.type == APPLIED and event.data["revision"] > after_revision:
                    yield AppliedOp.of(event)
            if len(page) < PAGE:
                return
            version = page[-1].version + 1

    def _version_before(self, document_id: UUID, revision: int) -> int:
        """The document's version just before the op of ``revision`` was applied."""
        for applied in self._scan(document_id, revision - 1):
            return applied.version - 1
        raise NotFound(f"document {document_id} has no revision {revision}")

    def _run_editing(self, context: CommandContext, run_id: UUID, document_id: UUID) -> str:
        run = load_owned(self._store, run_id, AgentRun, context.tenant_id)
        run.check_running()
        if run.document_id != document_id:
            raise InvalidValue("run_id", "this run does not edit this document")
        return f"run:{run_id}"

    def _load(self, tenant_id: str, document_id: UUID) -> Document:
        return load_owned(self._store, document_id, Document, tenant_id)


def _state(document: Document) -> DocumentState:
    return DocumentState(
        document.id,
        document.title,
        document.content,
        document.revision,
        document.archived,
        document.version,
    )
