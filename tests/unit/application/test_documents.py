"""Shared documents on the in-memory event store: a late op is transformed against the
ops read from the log since its base, concurrent ops are transformed against each other,
and any revision reads back as the history made it."""

from __future__ import annotations

import asyncio
import random

import pytest

from application.commands import CommandRunner
from application.context import CommandContext, Idempotency
from application.documents import Documents
from application.errors import NotFound
from domain import text_ot
from domain.errors import DocumentIsArchived, OpDoesNotFit, UnknownRevision
from tests.unit.application.memory import MemoryEventStore


def context(tenant: str = "acme", key: str | None = None) -> CommandContext:
    idempotency = Idempotency(key, "fingerprint") if key else None
    return CommandContext(tenant, "key:editor", "document.op", idempotency=idempotency)


@pytest.fixture
def store() -> MemoryEventStore:
    return MemoryEventStore()


@pytest.fixture
def documents(store: MemoryEventStore) -> Documents:
    return Documents(store, CommandRunner(store))


async def test_a_late_op_is_transformed_against_the_ops_since_its_base(
    documents: Documents,
) -> None:
    created = await documents.create(context(), "Notes", "Hello world")
    _, first = await documents.submit(context(), created.id, [5, ","], 0, "ada")
    _, late = await documents.submit(context(), created.id, [11, "!"], 0, "bob", "c2", 3)
    assert (first.revision, late.revision, late.base_revision) == (1, 2, 0)
    assert late.op == [12, "!"] and (late.source, late.seq, late.author) == ("c2", 3, "bob")
    assert documents.at("acme", created.id).content == "Hello, world!"


async def test_concurrent_writers_at_stale_bases_converge_to_the_log(
    documents: Documents, store: MemoryEventStore
) -> None:
    created = await documents.create(context(), "Pad", "")
    rng = random.Random(7)

    async def writer(name: str) -> None:
        for _ in range(5):
            base = documents.at("acme", created.id, None)
            at = rng.randint(0, len(base.content))
            op = [at, name] if at else [name]
            await documents.submit(context(), created.id, op, base.revision, name)

    await asyncio.gather(*(writer(f"w{i}") for i in range(6)))
    head = documents.at("acme", created.id)
    assert head.revision == 30
    replayed = ""
    for applied in documents.operations("acme", created.id, 0, 100):
        replayed = text_ot.apply(replayed, applied.op)
    assert replayed == head.content and sorted(head.content) == sorted(
        "".join(f"w{i}" * 5 for i in range(6))
    )


async def test_every_revision_reads_back_as_the_history_up_to_it(documents: Documents) -> None:
    created = await documents.create(context(), "Draft", "abc")
    await documents.submit(context(), created.id, ["x"], 0, "ada")
    await documents.rename(context(), created.id, "Second draft")
    await documents.submit(context(), created.id, [3, {"d": 1}], 1, "ada")
    await documents.submit(context(), created.id, [2, "yz"], 2, "bob")
    texts = ["abc"]
    for applied in documents.operations("acme", created.id, 0, 10):
        texts.append(text_ot.apply(texts[-1], applied.op))
    assert texts == ["abc", "xabc", "xab", "xayzb"]
    for revision, text in enumerate(texts):
        assert documents.at("acme", created.id, revision).content == text
    assert documents.at("acme", created.id, 0).title == "Draft"
    assert documents.at("acme", created.id, 1).title == "Second draft"  # renamed before op 2
    assert [a.revision for a in documents.operations("acme", created.id, 1, 1)] == [2]
    with pytest.raises(NotFound):
        documents.at("acme", created.id, 4)


async def test_a_resent_op_with_its_idempotency_key_applies_once(
    documents: Documents, store: MemoryEventStore
) -> None:
    created = await documents.create(context(), "Pad", "")
    _, applied = await documents.submit(context(key="op-1"), created.id, ["a"], 0, "ada")
    again, replayed = await documents.submit(context(key="op-1"), created.id, ["a"], 0, "ada")
    assert again.replayed and replayed == applied
    assert documents.at("acme", created.id).content == "a"


async def test_bad_ops_append_nothing(documents: Documents, store: MemoryEventStore) -> None:
    created = await documents.create(context(), "Pad", "abc")
    before = len(store.log)
    with pytest.raises(UnknownRevision):
        await documents.submit(context(), created.id, ["x"], 1, "ada")
    with pytest.raises(OpDoesNotFit, match="op"):
        await documents.submit(context(), created.id, [4, "x"], 0, "ada")
    with pytest.raises(NotFound):
        await documents.submit(context("globex"), created.id, ["x"], 0, "ada")
    await documents.archive(context(), created.id)
    with pytest.raises(DocumentIsArchived):
        await documents.submit(context(), created.id, ["x"], 0, "ada")
    assert len(store.log) == before + 1  # the archiving


async def test_editors_ops_are_decided_in_batches_each_with_its_own_metadata(
    documents: Documents, store: MemoryEventStore
) -> None:
    created = await documents.create(context(), "Pad", "")

    def as_editor(name: str) -> CommandContext:
        return CommandContext("acme", f"user:{name}", "document.submit_op")

    edits = [
        documents.edit(as_editor(f"u{i}"), created.id, [f"<{i}>"], 0, f"u{i}", f"c{i}", 1)
        for i in range(8)
    ]
    bad = documents.edit(as_editor("eve"), created.id, [5, "x"], 0, "eve", "ce", 1)
    again = documents.edit(as_editor("u3"), created.id, ["<3>"], 0, "u3", "c3", 1)
    *applied, refused, resent = await asyncio.gather(*edits, bad, again, return_exceptions=True)
    assert isinstance(refused, OpDoesNotFit)
    assert [a.revision for a in applied] == list(range(1, 9))  # type: ignore[union-attr]
    assert resent == applied[3]  # sent again: answered with the first, applied once
    head = documents.at("acme", created.id)
    assert head.revision == 8 and sorted(head.content) == sorted(
        "".join(f"<{i}>" for i in range(8))
    )
    ops = [e for e in store.log if e.type == "OperationApplied"]
    assert [e.metadata["actor"] for e in ops] == [f"user:u{i}" for i in range(8)]
    assert [e.position for e in ops] == [a.position for a in applied]  # type: ignore[union-attr]


async def test_an_edit_sent_again_after_a_lost_answer_applies_once(documents: Documents) -> None:
    created = await documents.create(context(), "Pad", "ab")
    first = await documents.edit(context(), created.id, [1, "x"], 0, "ada", "c1", 7)
    other = await documents.edit(context(), created.id, ["y"], 1, "bob", "c2", 1)
    again = await documents.edit(context(), created.id, [1, "x"], 0, "ada", "c1", 7)
    assert again == first and other.revision == 2
    assert documents.at("acme", created.id).content == "yaxb"


async def test_an_edit_after_a_write_elsewhere_is_decided_again_on_the_stored_document(
    documents: Documents,
) -> None:
    created = await documents.create(context(), "Pad", "ab")
    await documents.edit(context(), created.id, ["x"], 0, "ada", "c1", 1)  # kept as committed
    await documents.submit(context(), created.id, [3, "y"], 1, "bob")  # not through the batch
    await documents.rename(context(), created.id, "Renamed")
    late = await documents.edit(context(), created.id, ["z"], 1, "ada", "c1", 2)
    assert late.revision == 3 and late.op == ["z"]
    head = documents.at("acme", created.id)
    assert (head.content, head.title, head.revision) == ("zxaby", "Renamed", 3)


async def test_an_edit_on_a_revision_written_elsewhere_is_decided_on_the_stored_document(
    documents: Documents,
) -> None:
    created = await documents.create(context(), "Pad", "ab")
    await documents.edit(context(), created.id, ["x"], 0, "ada", "c1", 1)  # kept at revision 1
    await documents.submit(context(), created.id, [3, "y"], 1, "bob")  # revision 2, elsewhere
    seen = await documents.edit(context(), created.id, [4, "z"], 2, "ada", "c1", 2)
    assert seen.revision == 3 and documents.at("acme", created.id).content == "xabyz"
