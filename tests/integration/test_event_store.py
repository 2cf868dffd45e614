"""The event store on real PostgreSQL: metadata, positions, receipts and conflicts."""

from __future__ import annotations

import asyncio
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
from eventsourcing.application import Application

from api.bootstrap import Container
from application.context import CommandContext, Idempotency
from application.errors import ConcurrencyConflict, DuplicateReceipt, PreconditionFailed
from application.ports import Change
from domain.conversation import Conversation
from infrastructure.settings import Settings
from infrastructure.transcoder import ChronicleTranscoder

METADATA_KEYS = {
    "tenant_id",
    "actor",
    "command_id",
    "correlation_id",
    "causation_id",
    "traceparent",
    "occurred_at",
}


def context(tenant: str = "acme", key: str | None = None, fingerprint: str = "f") -> CommandContext:
    idempotency = Idempotency(key, fingerprint) if key else None
    return CommandContext(
        tenant_id=tenant,
        actor="tester",
        command="test",
        traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01",
        idempotency=idempotency,
    )


async def test_every_stored_event_carries_the_metadata(container: Container) -> None:
    ctx = context()
    started = await container.conversations.start(ctx, "Metadata", [])
    await container.conversations.post_message(ctx, started.id, role="user", content="hi")
    events = container.streams.read("acme", started.id, 1, 10)
    assert [e.type for e in events] == ["ConversationStarted", "MessagePosted"]
    for event in events:
        assert set(event.metadata) >= METADATA_KEYS
        assert event.metadata["tenant_id"] == "acme"
        assert event.metadata["command_id"] == str(ctx.command_id)
        assert event.metadata["traceparent"] == ctx.traceparent
        assert event.metadata["occurred_at"] == event.recorded_at.isoformat()  # its decision


async def test_events_are_written_by_chronicles_transcoder_and_load_through_the_librarys(
    container: Container,
) -> None:
    store = container.store
    assert isinstance(store.app.mapper.transcoder, ChronicleTranscoder)
    started = await container.conversations.start(context(), "Stored", ["ada", "grace"])
    library = Application().mapper.transcoder
    (row,) = store.recorder.select_stream(started.id, 1, 1)
    state = library.decode(row["state"])
    assert state["participants"] == ["ada", "grace"] and state["_sealed"]["fields"] == ["title"]
    assert isinstance(state["timestamp"], datetime)
    loaded = store.load_cold(started.id)
    assert isinstance(loaded, Conversation)
    assert (loaded.title, loaded.participants) == ("Stored", ["ada", "grace"])


async def test_answers_carry_the_new_version_and_the_last_position(container: Container) -> None:
    ctx = context()
    started = await container.conversations.start(ctx, "Positions", [])
    posted = await container.conversations.post_message(ctx, started.id, role="user", content="hi")
    assert (started.version, posted.version) == (1, 2)
    assert posted.position > started.position
    events = container.streams.read("acme", started.id, 1, 10)
    assert [e.position for e in events] == [started.position, posted.position]


async def test_a_receipt_and_its_events_commit_together_or_not_at_all(container: Container) -> None:
    key = f"k-{uuid.uuid4()}"
    first = await container.conversations.start(context(key=key), "Once", [])
    conversation = Conversation.start("acme", "Twice", [])
    with pytest.raises(DuplicateReceipt):
        await container.store.commit(context(key=key), Change((conversation,), conversation))
    assert container.streams.read("acme", first.id, 1, 10)
    assert container.store.read_stream(conversation.id, 1, 10) == []


async def test_a_stale_writer_gets_a_conflict_and_writes_nothing(container: Container) -> None:
    started = await container.conversations.start(context(), "Race", [])
    one = container.store.get(started.id, Conversation)
    two = container.store.get(started.id, Conversation)
    one.rename("One")
    two.rename("Two")
    await container.store.commit(context(), Change((one,), one))
    with pytest.raises(ConcurrencyConflict):
        await container.store.commit(context(), Change((two,), two))
    assert container.store.get(started.id, Conversation).title == "One"


async def test_commands_committed_together_keep_their_own_metadata_all_or_none(
    container: Container,
) -> None:
    started = await container.conversations.start(context(), "Together", [])
    conversation = container.store.get(started.id, Conversation)
    stale = container.store.get(started.id, Conversation)
    contexts, decided = [context(), context()], []
    for ctx, text in zip(contexts, ("one", "two"), strict=True):
        conversation.post_message(uuid.uuid4(), "user", text, None, None)
        decided.append((ctx, list(conversation.collect_events())))
    positions = await container.store.commit_together(conversation, decided)
    events = container.streams.read("acme", started.id, 2, 10)
    assert [e.position for e in events] == positions == sorted(positions)
    assert [e.metadata["command_id"] for e in events] == [str(c.command_id) for c in contexts]
    stale.rename("late")
    late = [(context(), list(stale.collect_events()))]
    stale.rename("later")
    late.append((context(), list(stale.collect_events())))
    with pytest.raises(ConcurrencyConflict):
        await container.store.commit_together(stale, late)
    assert len(container.streams.read("acme", started.id, 1, 10)) == 3


async def test_concurrent_posts_without_if_match_all_land(container: Container) -> None:
    started = await container.conversations.start(context(), "Busy", [])

    async def post(i: int) -> int:
        result = await container.conversations.post_message(
            context(), started.id, role="user", content=f"message {i}"
        )
        return result.version

    versions = sorted(await asyncio.gather(*(post(i) for i in range(40))))
    assert versions == list(range(2, 42))
    assert container.store.get(started.id, Conversation).message_count == 40


async def test_concurrent_writers_with_the_same_expected_version_one_wins(
    container: Container,
) -> None:
    started = await container.conversations.start(context(), "If-Match", [])

    async def rename(title: str) -> str:
        try:
            await container.conversations.rename(context(), started.id, title, expected_version=1)
        except PreconditionFailed:
            return "412"
        return "ok"

    outcomes = await asyncio.gather(*(rename(f"title {i}") for i in range(8)))
    assert outcomes.count("ok") == 1
    assert outcomes.count("412") == 7
    assert container.store.get(started.id, Conversation).version == 2


async def test_positions_are_unique_and_dense_under_concurrent_writers(
    container: Container,
) -> None:
    async def start(i: int) -> int:
        return (await container.conversations.start(context(), f"c{i}", [])).position

    positions = sorted(await asyncio.gather(*(start(i) for i in range(64))))
    assert len(set(positions)) == 64
    recorder = container.store.recorder
    notifications = recorder.select_notifications(positions[0], limit=10_000, stop=positions[-1])
    ids = [n.id for n in notifications]
    assert ids == list(range(positions[0], positions[-1] + 1))


def test_processes_starting_together_on_a_fresh_database_all_come_up(scratch: Settings) -> None:
    """As ``docker compose up`` starts the API, projector, relay and scheduler at once: each
    creates the schema it needs, and none fails on another's half-made tables."""
    barrier = threading.Barrier(6)

    def build() -> None:
        barrier.wait()
        Container.build(scratch).close()

    with ThreadPoolExecutor(6) as pool:
        for started in [pool.submit(build) for _ in range(6)]:
            started.result()
