"""Use cases of shared documents: create, submit an op (transformed against every op
committed since its base revision), rename, archive; and what only the log can answer
at once: a document at any revision, and its ops in order.

The ops since a base are read from the document's own stream, so an op is decided on
the log's truth, never on a read model that may lag.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import itertools
import json
import random
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, cast
from uuid import UUID

from application.commands import MAX_CONFLICT_RETRIES, CommandRunner, check_expected_version
from application.context import CommandContext
from application.errors import ConcurrencyConflict, NotFound
from application.ports import Change, CommandResult, EventStore, RecordedEvent
from application.tenancy import load_owned
from domain.agent_run import AgentRun
from domain.document import Document
from domain.errors import DomainError, InvalidValue
from domain.text_ot import Op

APPLIED = "OperationApplied"
PAGE = 1000
RECENT_DOCUMENTS = 1000
RECENT_OPS = 200
EDIT_BATCH = 100  # an editor's op waits for at most this many before it is decided


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


@dataclass
class _Edit:
    """An editor's op waiting for its document's next batch."""

    context: CommandContext
    op: object
    base_revision: int
    author: str
    source: str
    seq: int
    done: asyncio.Future[AppliedOp] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    @property
    def sent_as(self) -> tuple[str, int, str]:
        return self.source, self.seq, self.author


class _AppliedBefore(Exception):
    """The op was applied already (found by its source and seq)."""

    def __init__(self, applied: AppliedOp) -> None:
        super().__init__(f"applied at revision {applied.revision}")
        self.applied = applied


class RecentOps:
    """The last ops this process applied to each of the documents it edited last, so a
    late op is transformed without reading them back from the log."""

    def __init__(self, documents: int = RECENT_DOCUMENTS, ops: int = RECENT_OPS) -> None:
        self._documents = documents
        self._ops = ops
        self._by_document: OrderedDict[UUID, collections.deque[AppliedOp]] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, document_id: UUID, applied: AppliedOp) -> None:
        with self._lock:
            ops = self._by_document.get(document_id)
            if ops is None or not ops or ops[-1].revision != applied.revision - 1:
                ops = self._by_document[document_id] = collections.deque(maxlen=self._ops)
            ops.append(applied)
            self._by_document.move_to_end(document_id)
            while len(self._by_document) > self._documents:
                self._by_document.popitem(last=False)

    def between(self, document_id: UUID, after: int, upto: int) -> list[AppliedOp] | None:
        """The ops of revisions ``after + 1`` to ``upto``, if all are here."""
        if upto <= after:
            return []
        with self._lock:
            ops = self._by_document.get(document_id)
            if not ops or ops[0].revision > after + 1 or ops[-1].revision < upto:
                return None
            first = ops[0].revision
            return list(itertools.islice(ops, after + 1 - first, upto + 1 - first))

    def forget(self, document_id: UUID) -> None:
        with self._lock:
            self._by_document.pop(document_id, None)


class Heads:
    """The documents this process's editors committed last, as they were committed, so the
    next batch of a busy document is decided without reading it back. One written since by
    another process (or another use case) is stale: its batch's commit then conflicts, and
    the batch is decided again on a fresh load."""

    def __init__(self, documents: int = RECENT_DOCUMENTS) -> None:
        self._documents = documents
        self._by_id: OrderedDict[tuple[str, UUID], Document] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: tuple[str, UUID]) -> Document | None:
        """The document as last committed (taken out: the caller changes it)."""
        with self._lock:
            return self._by_id.pop(key, None)

    def keep(self, key: tuple[str, UUID], document: Document) -> None:
        with self._lock:
            self._by_id[key] = document
            while len(self._by_id) > self._documents:
                self._by_id.popitem(last=False)

    def forget(self, key: tuple[str, UUID]) -> None:
        with self._lock:
            self._by_id.pop(key, None)


class Documents:
    """Command handlers of documents, and the reads that come from the log."""

    def __init__(self, store: EventStore, runner: CommandRunner) -> None:
        self._store = store
        self._runner = runner
        self._turns: weakref.WeakValueDictionary[UUID, asyncio.Lock] = weakref.WeakValueDictionary()
        self._recent = RecentOps()
        self._heads = Heads()
        self._waiting: dict[tuple[str, UUID], list[_Edit]] = {}
        self._draining: set[asyncio.Task[None]] = set()

    def forget(self, tenant_id: str, document_id: UUID) -> None:
        """Drop what this process holds of a document's values (its subject was erased)."""
        self._heads.forget((tenant_id, document_id))
        self._recent.forget(document_id)

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
        (``run_id``: a running one that names this document) is authored by the run.

        An op with a ``source`` is applied once per ``(source, seq)`` without an
        idempotency key, as ShareDB does: a client resends an op it had no answer for
        with its own revision then, which is before the op's revision if it was applied,
        so the copy is among the ops since its base; it is answered with that one."""

        def decide() -> Change:
            by = author if run_id is None else self._run_editing(context, run_id, document_id)
            document = self._load(context.tenant_id, document_id)
            behind = 0 <= base_revision <= document.revision
            history = (
                self._ops_between(document_id, base_revision, document.revision) if behind else []
            )
            for done in history if source else ():
                if (done.source, done.seq, done.author) == (source, seq, by):
                    raise _AppliedBefore(done)
            applied = document.submit(op, base_revision, by, [o.op for o in history], source, seq)
            # The op as applied goes back in the result (and in its idempotency receipt,
            # so a resent op is answered without reading the log).
            fields = {"op": json.dumps(applied), "revision": str(document.revision)}
            return Change((document,), document, fields | {"author": by})

        # This process's writers of one document take turns: racing each other they
        # would only conflict and decide again (writers of other processes still do).
        try:
            async with self._turn(document_id):
                result = await self._runner.run(context, decide, retry_on_conflict=True)
        except _AppliedBefore as before:
            done = before.applied
            return CommandResult(document_id, done.version, done.position, replayed=True), done
        applied = self._applied(result, base_revision, source, seq)
        self._recent.add(document_id, applied)
        return result, applied

    async def edit(
        self,
        context: CommandContext,
        document_id: UUID,
        op: object,
        base_revision: int,
        author: str,
        source: str,
        seq: int,
    ) -> AppliedOp:
        """An editor's op (the co-editing socket's): as `submit`, except that the ops
        waiting for one document in this process are decided one after another on one
        load and committed together, each with its own command's metadata, so a busy
        document costs a commit per batch, not per op. Known by ``(source, seq)``, an op
        sent again applies once."""
        edit = _Edit(context, op, base_revision, author, source, seq)
        key = (context.tenant_id, document_id)
        waiting = self._waiting.setdefault(key, [])
        waiting.append(edit)
        if len(waiting) == 1:
            task = asyncio.ensure_future(self._drain(key))
            self._draining.add(task)
            task.add_done_callback(self._draining.discard)
        return await edit.done

    async def _drain(self, key: tuple[str, UUID]) -> None:
        """Decide and commit what waits for a document, batch after batch, until none."""
        while waiting := self._waiting.get(key):
            batch, rest = waiting[:EDIT_BATCH], waiting[EDIT_BATCH:]
            if rest:
                self._waiting[key] = rest
            else:
                del self._waiting[key]  # an edit arriving now starts the next drain
            try:
                async with self._turn(key[1]):
                    await self._commit_edits(key, batch)
            except Exception as error:  # every edit of the batch fails with it
                for edit in batch:
                    if not edit.done.done():
                        edit.done.set_exception(error)
            if not rest:
                return

    async def _commit_edits(self, key: tuple[str, UUID], batch: list[_Edit]) -> None:
        fresh = False  # the first try may decide on the document as this process left it
        for attempt in range(MAX_CONFLICT_RETRIES):
            document, outcomes = await asyncio.to_thread(self._decide_edits, key, batch, fresh)
            decided = [(edit.context, events) for edit, events, _ in outcomes if events]
            try:
                positions = await self._store.commit_together(document, decided) if decided else []
            except ConcurrencyConflict:  # another process wrote it: decide all again
                if fresh:
                    await asyncio.sleep(random.uniform(0, min(0.05, 0.0005 * 2**attempt)))  # noqa: S311
                fresh = True
                continue
            self._heads.keep(key, document)
            made = [o for _, events, o in outcomes if events and isinstance(o, AppliedOp)]
            final: dict[int, AppliedOp] = {}
            for applied, position in zip(made, positions, strict=True):
                final[id(applied)] = dataclasses.replace(applied, position=position)
                self._recent.add(key[1], final[id(applied)])
            for edit, _, outcome in outcomes:
                if isinstance(outcome, Exception):
                    edit.done.set_exception(outcome)
                else:  # an op sent again in this very batch is answered with the first one
                    edit.done.set_result(final.get(id(outcome), outcome))
            return
        raise ConcurrencyConflict("the document is too busy; try again")

    def _decide_edits(
        self, key: tuple[str, UUID], batch: list[_Edit], fresh: bool
    ) -> tuple[Document, list[tuple[_Edit, list[Any], AppliedOp | Exception]]]:
        """Each edit of the batch decided in turn on one load of the document (``fresh``:
        from the store; else as this process committed it last, if it did): its events
        (none for an op applied before, or refused) and the op as applied, or why not."""
        tenant, document_id = key
        kept = None if fresh else self._heads.take(key)
        if kept is not None and max(e.base_revision for e in batch) > kept.revision:
            kept = None  # an editor saw a revision another process wrote: this copy is behind
        document = kept if kept is not None else self._load(tenant, document_id)
        bases = [e.base_revision for e in batch if 0 <= e.base_revision <= document.revision]
        earliest = min(bases, default=document.revision)
        history = self._ops_between(document_id, earliest, document.revision)
        outcomes: list[tuple[_Edit, list[Any], AppliedOp | Exception]] = []
        for edit in batch:
            base = edit.base_revision
            since = [o for o in history if o.revision > base] if base >= 0 else []
            before = next((o for o in since if (o.source, o.seq, o.author) == edit.sent_as), None)
            if before is not None:
                outcomes.append((edit, [], before))
                continue
            try:
                applied = document.submit(
                    edit.op, base, edit.author, [o.op for o in since], edit.source, edit.seq
                )
            except DomainError as error:
                outcomes.append((edit, [], error))
                continue
            made = AppliedOp(
                document.revision, base, applied, edit.author, edit.source, edit.seq,
                document.version, 0,
            )  # fmt: skip
            history.append(made)
            outcomes.append((edit, list(document.collect_events()), made))
        return document, outcomes

    def _turn(self, document_id: UUID) -> asyncio.Lock:
        lock = self._turns.get(document_id)
        if lock is None:
            lock = self._turns[document_id] = asyncio.Lock()
        return lock

    @staticmethod
    def _applied(result: CommandResult, base_revision: int, source: str, seq: int) -> AppliedOp:
        fields = result.fields
        op = cast(Op, json.loads(fields["op"]))
        revision = int(fields["revision"])
        return AppliedOp(
            revision, base_revision, op, fields["author"], source, seq, result.version,
            result.position,
        )  # fmt: skip

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
        loaded at (later ones, committed since, make its commit conflict and retry): the
        ones this process applied last, else from the log."""
        if (remembered := self._recent.between(document_id, after, upto)) is not None:
            return remembered
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
