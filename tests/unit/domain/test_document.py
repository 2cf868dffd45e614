"""The Document aggregate's rules, without any I/O: ops at revisions, transformed against
what was committed since their base, as a ShareDB server does."""

from __future__ import annotations

from typing import Any

import pytest
from eventsourcing.domain import Aggregate
from hypothesis import given, settings
from hypothesis import strategies as st

from domain import text_ot as ot
from domain.document import (
    CONTENT_MAX_CHARS,
    OP_MAX_COMPONENTS,
    OP_MAX_SIZE,
    TITLE_MAX_CHARS,
    Document,
)
from domain.errors import (
    DocumentIsArchived,
    DocumentIsErased,
    InvalidValue,
    OpDoesNotFit,
    UnknownRevision,
)
from domain.text_ot import Op
from tests.unit.domain.strategies import TEXTS, ops_for


def created(content: str = "Hello world") -> Document:
    return Document.create("acme", "Notes", content)


def replayed(document: Document) -> Document:
    """The document rebuilt from the events it recorded, as a load from the log does."""
    aggregate: Aggregate | None = None
    for recorded in document.collect_events():
        aggregate = recorded.mutate(aggregate)
    assert isinstance(aggregate, Document)
    return aggregate


def fields(document: Document) -> list[dict[str, Any]]:
    """The fields each pending event records, beside its type's name."""
    return [
        {"type": type(e).__name__}
        | {k: v for k, v in vars(e).items() if not k.startswith("originator") and k != "timestamp"}
        for e in document.pending_events
    ]


# Creating, renaming, archiving


def test_creating_records_tenant_title_and_content_at_revision_0_version_1() -> None:
    document = created()
    assert (document.tenant_id, document.title) == ("acme", "Notes")
    assert document.content == "Hello world"
    assert (document.revision, document.version, document.archived) == (0, 1, False)
    assert fields(document) == [
        {"type": "DocumentCreated", "tenant_id": "acme", "title": "Notes", "content": "Hello world"}
    ]


def test_a_document_may_start_empty() -> None:
    assert Document.create("acme", "Blank").content == ""


@pytest.mark.parametrize("title", ["", "  ", "x" * (TITLE_MAX_CHARS + 1), "a\x00b"])
def test_a_title_must_be_1_to_200_characters_not_blank_without_nul(title: str) -> None:
    with pytest.raises(InvalidValue) as error:
        Document.create("acme", title)
    assert error.value.field == "title"
    with pytest.raises(InvalidValue):
        created().rename(title)


def test_content_is_at_most_a_million_code_points_without_nul() -> None:
    assert len(created("👻" * CONTENT_MAX_CHARS).content) == CONTENT_MAX_CHARS
    for content in ("👻" * (CONTENT_MAX_CHARS + 1), "a\x00"):
        with pytest.raises(InvalidValue) as error:
            created(content)
        assert error.value.field == "content"


def test_renaming_records_the_new_title_and_leaves_the_revision() -> None:
    document = created()
    document.rename("Minutes")
    assert (document.title, document.revision, document.version) == ("Minutes", 0, 2)
    assert fields(document)[-1] == {"type": "DocumentRenamed", "title": "Minutes"}


def test_an_archived_document_takes_no_op_no_rename_and_no_second_archive() -> None:
    document = created()
    document.archive()
    assert document.archived
    with pytest.raises(DocumentIsArchived):
        document.submit([5, "!"], 0, "ada", [])
    with pytest.raises(DocumentIsArchived):
        document.rename("Other")
    with pytest.raises(DocumentIsArchived):
        document.archive()
    assert document.version == 2


# Submitting ops


def test_an_op_at_the_head_is_applied_and_recorded_normalised() -> None:
    document = created()
    applied = document.submit([5, 1, "!", 5], 0, "ada", [], "client-1", 7)
    assert applied == [6, "!"]
    assert (document.content, document.revision, document.version) == ("Hello !world", 1, 2)
    assert fields(document)[-1] == {
        "type": "OperationApplied",
        "revision": 1,
        "base_revision": 0,
        "op": [6, "!"],
        "author": "ada",
        "source": "client-1",
        "seq": 7,
    }


def test_a_late_op_is_transformed_against_each_op_since_its_base_as_sharedb_does() -> None:
    document = created("Hello world")
    alice = document.submit([5, ","], 0, "alice", [])  # "Hello, world"
    bob = document.submit([{"d": 1}, "J"], 1, "bob", [])  # "Jello, world"
    carol = document.submit([5, " there", 6, "!"], 0, "carol", [alice, bob])
    # Carol's insert ties with Alice's comma; ShareDB puts the late op's text first.
    assert document.content == "Jello there, world!"
    assert carol == [5, " there", 7, "!"]
    assert fields(document)[-1]["base_revision"] == 0
    assert (document.revision, replayed(document).content) == (3, document.content)


def test_an_op_that_comes_to_nothing_is_still_recorded_at_a_revision() -> None:
    document = created("abc")
    first = document.submit([1, {"d": 1}], 0, "ada", [])
    assert document.submit([1, {"d": 1}], 0, "bob", [first]) == []
    assert (document.content, document.revision) == ("ac", 2)


def test_a_late_op_must_fit_the_text_it_was_made_on_not_the_head() -> None:
    document = created("abc")
    first = document.submit(["xyz"], 0, "ada", [])  # "xyzabc"
    with pytest.raises(OpDoesNotFit, match=r"retains past the end of the document \(3"):
        document.submit([4, "!"], 0, "bob", [first])
    with pytest.raises(OpDoesNotFit, match="retains past the end"):
        document.submit([3, "!", 1], 0, "bob", [first])  # a trailing retain, too
    document.submit([3, "!"], 0, "bob", [first])
    assert document.content == "xyzabc!"


@pytest.mark.parametrize("base", [1, 5, -1])
def test_a_base_revision_ahead_of_the_head_or_negative_is_unknown(base: int) -> None:
    document = created()
    with pytest.raises(UnknownRevision) as error:
        document.submit(["x"], base, "ada", [])
    assert (error.value.base_revision, error.value.revision) == (base, 0)
    assert document.version == 1


def test_a_base_revision_is_a_whole_number() -> None:
    with pytest.raises(InvalidValue) as error:
        created().submit(["x"], True, "ada", [])
    assert error.value.field == "base_revision"


def test_the_history_handed_over_must_be_every_op_since_the_base() -> None:
    document = created()
    first = document.submit(["x"], 0, "ada", [])
    with pytest.raises(ValueError, match="1 ops follow revision 0, not 0"):
        document.submit(["y"], 0, "bob", [])
    with pytest.raises(ValueError, match="0 ops follow revision 1, not 1"):
        document.submit(["y"], 1, "bob", [first])


@pytest.mark.parametrize(
    ("op", "problem"),
    [
        ([-1, "x"], "a retain must be positive"),
        ([""], "an insert must not be empty"),
        (["a\x00"], "NUL"),
        ([{"d": "Hello"}], "deleted text is not taken"),
        ([{"i": "x"}], "no other key"),
    ],
)
def test_a_malformed_op_is_refused(op: Any, problem: str) -> None:
    document = created()
    with pytest.raises(InvalidValue) as error:
        document.submit(op, 0, "ada", [])
    assert (error.value.field, document.version) == ("op", 1)
    assert problem in error.value.message


@pytest.mark.parametrize(
    ("op", "problem"),
    [([12], "retains past the end"), ([6, {"d": 6}], "deletes 6 characters where 5 remain")],
)
def test_a_well_formed_op_that_does_not_fit_its_text_conflicts_with_it(
    op: Any, problem: str
) -> None:
    """Only the document knows its text: 409, where a malformed op is 400."""
    document = created()
    with pytest.raises(OpDoesNotFit, match=problem):
        document.submit(op, 0, "ada", [])
    assert document.version == 1


def test_an_op_may_weigh_up_to_its_limit() -> None:
    document = created("")
    document.submit(["x" * (OP_MAX_SIZE - 1)], 0, "ada", [])
    with pytest.raises(InvalidValue, match="must weigh at most"):
        document.submit(["x" * OP_MAX_SIZE], 1, "ada", [])


def test_an_op_may_have_up_to_ten_thousand_components() -> None:
    document = created("x" * OP_MAX_COMPONENTS)
    document.submit([1, {"d": 1}] * (OP_MAX_COMPONENTS // 2), 0, "ada", [])
    with pytest.raises(InvalidValue, match="at most 10000 components"):
        document.submit([1, {"d": 1}] * (OP_MAX_COMPONENTS // 2) + ["x"], 1, "ada", [])


def test_an_op_may_not_make_the_document_longer_than_its_limit() -> None:
    document = created("x" * (CONTENT_MAX_CHARS - 1))
    document.submit(["y"], 0, "ada", [])
    with pytest.raises(InvalidValue, match="would make the document over"):
        document.submit(["z"], 1, "ada", [])
    assert len(document.content) == CONTENT_MAX_CHARS


@pytest.mark.parametrize("author", ["", "x" * 201, "a\x00"])
def test_an_author_is_1_to_200_characters_without_nul(author: str) -> None:
    with pytest.raises(InvalidValue) as error:
        created().submit(["x"], 0, author, [])
    assert error.value.field == "author"


@pytest.mark.parametrize(
    ("source", "seq", "field"), [("x" * 101, 0, "source"), ("c", -1, "seq"), ("c", True, "seq")]
)
def test_a_source_is_at_most_100_characters_and_a_seq_a_whole_number(
    source: str, seq: int, field: str
) -> None:
    with pytest.raises(InvalidValue) as error:
        created().submit(["x"], 0, "ada", [], source, seq)
    assert error.value.field == field


@st.composite
def sessions(draw: st.DrawFn) -> tuple[str, list[Op], int, Op]:
    """A document, ops committed one after another, and a late op on one revision of it."""
    text = draw(TEXTS)
    texts, committed = [text], []
    for _ in range(draw(st.integers(0, 4))):
        op = draw(ops_for(texts[-1]))
        committed.append(op)
        texts.append(ot.apply(texts[-1], op))
    base = draw(st.integers(0, len(committed)))
    return text, committed, base, draw(ops_for(texts[base]))


@settings(max_examples=150, deadline=None)
@given(sessions())
def test_a_sharedb_client_and_the_document_end_with_the_same_text(
    session: tuple[str, list[Op], int, Op],
) -> None:
    text, committed, base, late = session
    document = created(text)
    committed = [document.submit(op, rev, "others", []) for rev, op in enumerate(committed)]
    document.submit(late, base, "client", committed[base:])

    # The client (ShareDB's doc.js) applied its op at once, then receives each op since
    # its base: it transforms that op by its own as "right", and its own by it as "left".
    seen = text
    for op in committed[:base]:
        seen = ot.apply(seen, op)
    seen, pending = ot.apply(seen, late), late
    for op in committed[base:]:
        seen = ot.apply(seen, ot.transform(op, pending, "right"))
        pending = ot.transform(pending, op, "left")
    assert seen == document.content == replayed(document).content


def test_an_erased_document_loads_as_empty_and_takes_no_more_changes() -> None:
    """Its events replayed after its subject's erasure: values read as ``None``."""
    document = Document.create("acme", "Notes", "hello")
    document.submit([5, " world"], 0, "ann", [])
    created, applied = document.collect_events()
    object.__setattr__(created, "title", None)
    object.__setattr__(created, "content", None)
    object.__setattr__(applied, "op", None)
    replayed = applied.mutate(created.mutate(None))
    assert replayed is not None
    assert (replayed.erased, replayed.content, replayed.revision) == (True, "", 1)
    with pytest.raises(DocumentIsErased):
        replayed.rename("Other")
