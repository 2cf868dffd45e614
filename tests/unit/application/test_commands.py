"""How a command is run: idempotency, preconditions, conflicts and retries, tenant
isolation; through the conversation use cases, on the in-memory event store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from uuid import UUID

import pytest

from application.commands import CommandRunner
from application.context import CommandContext, Idempotency
from application.conversations import Conversations
from application.errors import (
    ConcurrencyConflict,
    IdempotencyKeyReused,
    NotFound,
    PreconditionFailed,
)
from application.ports import Change
from domain.conversation import Conversation
from domain.errors import ConversationIsArchived
from domain.ids import new_id
from tests.unit.application.memory import MemoryEventStore


def context(
    tenant: str = "acme", key: str | None = None, fingerprint: str = "f1"
) -> CommandContext:
    idempotency = Idempotency(key, fingerprint) if key is not None else None
    return CommandContext(tenant, "key:k1", "test", idempotency=idempotency)


@pytest.fixture
def store() -> MemoryEventStore:
    return MemoryEventStore()


@pytest.fixture
def conversations(store: MemoryEventStore) -> Conversations:
    return Conversations(store, CommandRunner(store))


async def started(conversations: Conversations) -> UUID:
    return (await conversations.start(context(), "Planning", ["ada"])).id


def post_behind_its_back(
    store: MemoryEventStore, conversation_id: UUID
) -> Callable[[Change], None]:
    """A concurrent writer that commits a message just before the command under test."""

    def write(_: Change) -> None:
        conversation = store.get(conversation_id, Conversation)
        conversation.post_message(new_id(), "user", "meanwhile", None, None)
        store.write(context(), Change((conversation,), conversation))

    return write


async def test_a_command_commits_its_events_with_the_contexts_metadata(
    store: MemoryEventStore, conversations: Conversations
) -> None:
    conversation_id = await started(conversations)
    result = await conversations.post_message(context(), conversation_id, role="user", content="hi")

    assert (result.version, result.position) == (2, 2)
    assert store.types() == ["ConversationStarted", "MessagePosted"]
    assert store.log[-1].metadata["tenant_id"] == "acme"
    assert store.log[-1].data["content"] == "hi"
    assert result.fields["message_id"] == str(store.log[-1].data["message_id"])


async def test_the_same_idempotency_key_answers_the_first_result_and_writes_once(
    store: MemoryEventStore, conversations: Conversations
) -> None:
    conversation_id = await started(conversations)
    first = await conversations.post_message(
        context(key="k"), conversation_id, role="user", content="hi"
    )
    again = await conversations.post_message(
        context(key="k"), conversation_id, role="user", content="hi"
    )

    assert (again.id, again.position, again.fields) == (first.id, first.position, first.fields)
    assert (first.replayed, again.replayed) == (False, True)
    assert store.types().count("MessagePosted") == 1


async def test_an_idempotency_key_is_the_tenants_own(
    store: MemoryEventStore, conversations: Conversations
) -> None:
    await conversations.start(context("acme", key="k"), "A", [])
    await conversations.start(context("globex", key="k"), "G", [])
    assert store.types() == ["ConversationStarted", "ConversationStarted"]


async def test_an_idempotency_key_sent_with_another_request_is_refused(
    store: MemoryEventStore, conversations: Conversations
) -> None:
    conversation_id = await started(conversations)
    await conversations.post_message(context(key="k"), conversation_id, role="user", content="a")
    with pytest.raises(IdempotencyKeyReused):
        await conversations.post_message(
            context(key="k", fingerprint="f2"), conversation_id, role="user", content="b"
        )
    assert store.types().count("MessagePosted") == 1


async def test_the_same_key_committed_concurrently_answers_the_winners_result(
    store: MemoryEventStore, conversations: Conversations
) -> None:
    conversation_id = await started(conversations)
    winner = await conversations.post_message(
        context(key="k"), conversation_id, role="user", content="hi"
    )
    # The winner's receipt was not there yet when the second request looked for it, and
    # was committed before the second request wrote.
    receipt = store.receipts.pop(("acme", "k"))
    store.before_commit = lambda _: store.receipts.update({("acme", "k"): receipt})
    loser = await conversations.post_message(
        context(key="k"), conversation_id, role="user", content="hi"
    )

    assert (loser.position, loser.replayed) == (winner.position, True)
    assert store.types().count("MessagePosted") == 1


async def test_a_stale_expected_version_is_a_failed_precondition(
    store: MemoryEventStore, conversations: Conversations
) -> None:
    conversation_id = await started(conversations)
    with pytest.raises(PreconditionFailed) as error:
        await conversations.rename(context(), conversation_id, "New", expected_version=7)
    assert (error.value.expected, error.value.actual) == (7, 1)
    assert store.types() == ["ConversationStarted"]


async def test_a_write_between_decision_and_commit_fails_an_expected_version(
    store: MemoryEventStore, conversations: Conversations
) -> None:
    conversation_id = await started(conversations)
    store.before_commit = post_behind_its_back(store, conversation_id)
    with pytest.raises(PreconditionFailed):
        await conversations.rename(context(), conversation_id, "New", expected_version=1)
    assert store.types() == ["ConversationStarted", "MessagePosted"]


async def test_a_command_that_does_not_commute_reports_the_conflict(
    store: MemoryEventStore, conversations: Conversations
) -> None:
    conversation_id = await started(conversations)
    store.before_commit = post_behind_its_back(store, conversation_id)
    with pytest.raises(ConcurrencyConflict):
        await conversations.rename(context(), conversation_id, "New")


async def test_a_message_retries_a_conflict_on_the_newer_conversation(
    store: MemoryEventStore, conversations: Conversations
) -> None:
    conversation_id = await started(conversations)
    store.before_commit = post_behind_its_back(store, conversation_id)
    result = await conversations.post_message(
        context(), conversation_id, role="user", content="mine"
    )

    assert result.version == 3
    assert [e.data.get("content") for e in store.log[1:]] == ["meanwhile", "mine"]


async def test_concurrent_messages_to_one_conversation_all_land_in_order_of_commit(
    store: MemoryEventStore, conversations: Conversations
) -> None:
    conversation_id = await started(conversations)
    posts = [
        conversations.post_message(context(), conversation_id, role="user", content=str(n))
        for n in range(20)
    ]
    results = await asyncio.gather(*posts)

    assert sorted(r.version for r in results) == list(range(2, 22))
    assert sorted(e.data["content"] for e in store.log[1:]) == sorted(str(n) for n in range(20))
    assert [e.version for e in store.log] == list(range(1, 22))


async def test_another_tenants_conversation_is_not_found(
    store: MemoryEventStore, conversations: Conversations
) -> None:
    conversation_id = await started(conversations)
    with pytest.raises(NotFound):
        await conversations.post_message(
            context("globex"), conversation_id, role="user", content="hi"
        )
    with pytest.raises(NotFound):
        await conversations.archive(context("globex"), conversation_id)
    assert store.types() == ["ConversationStarted"]


async def test_a_domain_refusal_writes_nothing(
    store: MemoryEventStore, conversations: Conversations
) -> None:
    conversation_id = await started(conversations)
    await conversations.archive(context(), conversation_id)
    with pytest.raises(ConversationIsArchived):
        await conversations.post_message(context(), conversation_id, role="user", content="late")
    assert store.types() == ["ConversationStarted", "ConversationArchived"]


async def test_an_unknown_conversation_is_not_found(conversations: Conversations) -> None:
    with pytest.raises(NotFound):
        await conversations.rename(context(), new_id(), "Nothing here")
