"""The Document aggregate: a titled plain text that many authors edit at once, their ops
merged by operational transformation (`domain.text_ot`). No I/O happens here.

Revisions follow ShareDB: a document is at revision 0 when created, and each applied op
takes it one further (`OperationApplied.revision` is the revision the op made, so the first
op makes 1). The aggregate's version counts every event instead: the created event is
version 1, and renames and archiving count too, so ``version >= revision + 1``.

An op is made on the revision its author had seen (``base_revision``). Ops committed since
then are its history; the application reads them from the log and hands them over, and the
op is transformed against each in turn before it is applied, then stored as applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from eventsourcing.domain import event

from domain import text_ot
from domain.errors import (
    DocumentIsArchived,
    DocumentIsErased,
    InvalidValue,
    OpDoesNotFit,
    UnknownRevision,
)
from domain.ids import TimeOrderedAggregate
from domain.tenancy import TenantOwned
from domain.text_ot import Op, Side
from domain.values import INT64_MAX, check_chars, check_count, check_text

TITLE_MAX_CHARS = 200
AUTHOR_MAX_CHARS = 200
SOURCE_MAX_CHARS = 100
CONTENT_MAX_CHARS = 1_000_000  # code points: what the aggregate holds and every op walks
OP_MAX_SIZE = 100_000  # `text_ot.size`: code points inserted plus one per component
OP_MAX_COMPONENTS = 10_000  # each costs a step of every transform against the op
# ShareDB's server transforms an incoming op as the left side against each committed one
# (sharedb lib/ot.js), and its clients transform theirs the same way: so where a late op and
# a committed one insert at the same place, the late op's text comes first. Another side
# here would make ShareDB-style clients diverge from the server.
INCOMING_SIDE: Side = "left"


def check_title(title: str) -> None:
    if not 1 <= len(title) <= TITLE_MAX_CHARS or not title.strip():
        raise InvalidValue("title", f"must be 1 to {TITLE_MAX_CHARS} characters, not blank")
    check_text("title", title)


def check_op_size(op: Op) -> None:
    if len(op) > OP_MAX_COMPONENTS:
        raise InvalidValue("op", f"must have at most {OP_MAX_COMPONENTS} components")
    if text_ot.size(op) > OP_MAX_SIZE:
        raise InvalidValue(
            "op", f"must weigh at most {OP_MAX_SIZE} (code points inserted, one per component)"
        )


class Document(TimeOrderedAggregate, TenantOwned):
    """A shared text document owned by one tenant, edited by ops at revisions."""

    category = "document"
    # Its data subject was erased: its title, text and ops read as nothing, and it takes
    # no more changes (a class default: documents loaded from older snapshots lack it).
    erased = False

    @event("DocumentCreated")
    def __init__(self, tenant_id: str, title: str, content: str) -> None:
        self.tenant_id = tenant_id
        self.title = title
        self.content = content
        if content is None:  # erased
            self.erased, self.content = True, ""
        self.revision = 0
        self.archived = False

    @classmethod
    def create(cls, tenant_id: str, title: str, content: str = "") -> Document:
        check_title(title)
        check_chars("content", content, CONTENT_MAX_CHARS, minimum=0)
        return cls(tenant_id=tenant_id, title=title, content=content)

    def submit(
        self,
        op: object,
        base_revision: int,
        author: str,
        history: Sequence[Op],
        source: str = "",
        seq: int = 0,
    ) -> Op:
        """Apply ``op``, made by ``author`` on revision ``base_revision``, after ``history``
        (the ops of revisions ``base_revision + 1`` to `revision`, in order). Returns the
        op as applied at the head, which `OperationApplied` records; an op that comes to
        nothing is still recorded, so its author learns its revision. ``source`` and
        ``seq`` name the editing client and its op's number (ShareDB's ``src`` and
        ``seq``), so a client that follows the document knows its own op when it comes.

        `UnknownRevision` for a base ahead of the head or negative, `DocumentIsArchived`,
        `InvalidValue` for a malformed or oversized op, one that does not fit the document,
        or one that would make it longer than `CONTENT_MAX_CHARS`."""
        self.check_open()
        check_chars("author", author, AUTHOR_MAX_CHARS)
        check_chars("source", source, SOURCE_MAX_CHARS, minimum=0)
        check_count("seq", seq, INT64_MAX)
        self._check_base(base_revision, history)
        applied = self._transformed(op, base_revision, history)
        if text_ot.result_length(applied, len(self.content)) > CONTENT_MAX_CHARS:
            raise InvalidValue("op", f"would make the document over {CONTENT_MAX_CHARS} characters")
        self._operation_applied(self.revision + 1, base_revision, applied, author, source, seq)
        return applied

    def _check_base(self, base_revision: int, history: Sequence[Op]) -> None:
        if isinstance(base_revision, bool) or not isinstance(base_revision, int):
            raise InvalidValue("base_revision", "must be a whole number")
        if not 0 <= base_revision <= self.revision:
            raise UnknownRevision(self.id, base_revision, self.revision)
        if len(history) != self.revision - base_revision:
            # The caller's contract, not the client's: a bug if it happens.
            raise ValueError(
                f"{self.revision - base_revision} ops follow revision {base_revision},"
                f" not {len(history)}"
            )

    def _transformed(self, op: object, base_revision: int, history: Sequence[Op]) -> Op:
        """``op`` checked against the text it was made on, then moved past ``history``."""
        text_ot.check(op)
        submitted = cast(Op, op)
        check_op_size(submitted)  # bounds the work below before it is done
        # It must fit that text, trailing retain and all (which normalising drops): the
        # text is as long as the head less what the history added.
        made_on = len(self.content) - sum(text_ot.length_change(done) for done in history)
        try:
            text_ot.result_length(submitted, made_on)
        except InvalidValue as error:  # well formed, but not for the text it names
            raise OpDoesNotFit(self.id, base_revision, error.message) from None
        applied = text_ot.normalize(submitted)
        for committed in history:
            applied = text_ot.transform(applied, committed, INCOMING_SIDE)
        check_op_size(applied)  # and bounds what is stored
        return applied

    @event("OperationApplied")
    def _operation_applied(
        self,
        revision: int,
        base_revision: int,
        op: Op,
        author: str,
        source: str = "",
        seq: int = 0,
    ) -> None:
        if op is None or self.erased:
            self.erased, self.content = True, ""
        else:
            self.content = text_ot.apply(self.content, op)
        self.revision = revision

    def rename(self, title: str) -> None:
        self.check_open()
        check_title(title)
        self._renamed(title)

    @event("DocumentRenamed")
    def _renamed(self, title: str) -> None:
        self.title = title

    def archive(self) -> None:
        """Archive the document: it takes no more ops or renames."""
        self.check_open()
        self._archived()

    @event("DocumentArchived")
    def _archived(self) -> None:
        self.archived = True

    def check_open(self) -> None:
        """Raise `DocumentIsArchived` unless the document takes changes."""
        if self.archived:
            raise DocumentIsArchived(self.id)
        if self.erased:
            raise DocumentIsErased(self.id)
