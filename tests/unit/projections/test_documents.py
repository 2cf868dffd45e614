"""The documents read model, applied in memory (an op's content change is SQL of its own,
tested against PostgreSQL in tests/integration/test_documents.py)."""

from __future__ import annotations

from uuid import UUID, uuid4

from projections.documents import DocumentsProjection
from projections.events import DocumentCreated, DocumentRenamed, OperationApplied
from tests.unit.projections.memory import Log, Tables, erasure, unreadable

DOC = uuid4()


def created(log: Log, document: UUID = DOC, tenant: str = "acme") -> DocumentCreated:
    return log.event(DocumentCreated, document, tenant_id=tenant, title="Plan", content="ann's")


def test_erasing_a_document_redacts_its_title_and_content_and_keeps_the_rest() -> None:
    log, other = Log(), uuid4()
    events = [created(log), log.event(DocumentRenamed, DOC, title="Secret"), created(log, other)]
    before = Tables().apply(DocumentsProjection(), *events).one("documents", id=DOC)
    tables = Tables().apply(DocumentsProjection(), *events, erasure(log, f"document:{DOC}"))
    assert tables.one("documents", id=DOC) == before | {"title": None, "content": None}
    assert tables.one("documents", id=other)["content"] == "ann's"


def test_an_erasure_of_another_tenants_document_or_of_a_user_changes_nothing() -> None:
    log = Log()
    for tombstone in (erasure(log, f"document:{DOC}", tenant="other"), erasure(log, "user:ann")):
        tables = Tables().apply(DocumentsProjection(), created(Log()), tombstone)
        assert tables.one("documents", id=DOC)["title"] == "Plan"


def test_a_rebuild_after_erasing_a_document_makes_the_row_the_erasure_left() -> None:
    log = Log()
    events = [created(log), log.event(DocumentRenamed, DOC, title="Secret")]
    tombstone = erasure(log, f"document:{DOC}")
    live = Tables().apply(DocumentsProjection(), *events, tombstone)
    rebuilt = Tables().apply(DocumentsProjection(), *map(unreadable, events), tombstone)
    assert rebuilt.rows == live.rows


def test_an_op_whose_values_are_gone_is_applied_as_no_op() -> None:
    op = Log().event(OperationApplied, DOC, revision=1, base_revision=0, op=[3, "x"], author="a")
    (statement,) = DocumentsProjection().apply(unreadable(op))
    assert statement.params[0] is None  # apply_text_op(content, NULL) leaves the content
    (readable,) = DocumentsProjection().apply(op)
    assert readable.params[0] == '[3, "x"]'
