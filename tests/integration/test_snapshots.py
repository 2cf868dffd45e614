"""Snapshots on real PostgreSQL: taken every 100 versions, used by cold loads, and the
state they give is the state the events give.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from eventsourcing.application import project_aggregate
from eventsourcing.domain import Aggregate, Snapshot

from application.commands import CommandRunner
from application.context import CommandContext
from application.documents import Documents
from application.ports import Change
from domain.agent_run import AgentRun
from domain.conversation import Conversation
from domain.document import Document
from domain.task import Task
from infrastructure.event_store import PostgresEventStore
from infrastructure.settings import Settings


@pytest.fixture
def store(scratch: Settings) -> Iterator[PostgresEventStore]:
    built = PostgresEventStore(scratch)
    yield built
    built.close()


def commit(store: PostgresEventStore, aggregate: Aggregate) -> None:
    context = CommandContext("acme", "tester", "test")
    store.portal.call(store.commit, context, Change((aggregate,), aggregate))


def long_conversation(store: PostgresEventStore, messages: int) -> Conversation:
    conversation = Conversation.start("acme", "Long", ["ada"])
    commit(store, conversation)
    for n in range(messages):
        conversation.post_message(uuid.uuid4(), "user", f"message {n}", None, n)
        commit(store, conversation)
    return conversation


def replayed(store: PostgresEventStore, aggregate_id: uuid.UUID, version: int | None = None) -> Any:
    """The aggregate from every one of its events, without snapshots or cache."""
    return project_aggregate(None, store.app.events.get(aggregate_id, lte=version))


def snapshot_versions(store: PostgresEventStore, aggregate_id: uuid.UUID) -> list[int]:
    assert store.app.snapshots is not None
    return [s.originator_version for s in store.app.snapshots.get(aggregate_id)]


def test_a_snapshot_is_taken_every_100_versions(store: PostgresEventStore) -> None:
    conversation = long_conversation(store, 249)
    assert conversation.version == 250
    assert snapshot_versions(store, conversation.id) == [100, 200]


def test_a_cold_load_starts_from_the_latest_snapshot(store: PostgresEventStore) -> None:
    conversation = long_conversation(store, 249)
    with store.recorder.datastore.get_connection() as conn:
        row = conn.execute(
            "SELECT state FROM chronicle_snapshots WHERE originator_id = %s"
            " AND originator_version = 200",
            (conversation.id,),
        ).fetchone()
        assert row is not None
        state = json.loads(bytes(row["state"]))
        del state["state"]["_sealed"]  # its title, sealed: a plain one reads as it is
        state["state"]["title"] = "from the snapshot"
        conn.execute(
            "UPDATE chronicle_snapshots SET state = %s WHERE originator_id = %s"
            " AND originator_version = 200",
            (json.dumps(state).encode(), conversation.id),
        )
    loaded = store.load_cold(conversation.id)
    assert isinstance(loaded, Conversation)
    assert loaded.title == "from the snapshot"
    assert (loaded.version, loaded.message_count) == (250, 249)


def test_a_conversation_is_the_same_with_and_without_snapshots(store: PostgresEventStore) -> None:
    conversation = long_conversation(store, 230)
    assert vars(store.load_cold(conversation.id)) == vars(replayed(store, conversation.id))
    for version in (100, 150, 201):
        assert vars(store.get_at(conversation.id, version)) == vars(
            replayed(store, conversation.id, version)
        )


def test_an_agent_run_is_the_same_with_and_without_snapshots(store: PostgresEventStore) -> None:
    run = AgentRun.begin("acme", uuid.uuid4(), "planner", "model-1", None)
    for n in range(80):
        run.start_tool(f"call-{n}", "search", {"q": n, "nested": [1.5, None, "x"]})
        run.think(f"thinking {n}")
        if n % 3:
            run.finish_tool(f"call-{n}", {"hits": n}, None, n)
        commit(store, run)
    assert run.version > 200
    assert snapshot_versions(store, run.id)
    cold = store.load_cold(run.id)
    assert vars(cold) == vars(replayed(store, run.id))
    assert isinstance(cold, AgentRun)
    assert len(cold.open_calls) == 27


def test_a_task_is_the_same_with_and_without_snapshots(store: PostgresEventStore) -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    task = Task.submit("acme", "report", {"rows": [1, 2.25]}, 3, 5, 30.0, now, 1.5)
    task.start("worker-1", now)
    commit(store, task)
    for n in range(120):
        task.heartbeat(now + timedelta(seconds=n), n / 2, f"step {n}")
        commit(store, task)
    assert snapshot_versions(store, task.id) == [100]
    assert vars(store.load_cold(task.id)) == vars(replayed(store, task.id))


def test_a_document_at_any_revision_loads_from_its_latest_snapshot_before(
    store: PostgresEventStore,
) -> None:
    document = Document.create("acme", "Pad", "")
    commit(store, document)
    for n in range(230):
        document.submit([len(document.content), f"{n};"] if n else ["0;"], n, "ada", [])
        commit(store, document)
    assert snapshot_versions(store, document.id) == [100, 200]
    assert vars(store.load_cold(document.id)) == vars(replayed(store, document.id))
    marked = cast(Document, store.get_at(document.id, 100))  # its content is sealed when stored
    marked.content = marked.content.replace("98;", "98!")
    resealed = store.app.mapper.to_stored_event(Snapshot.take(marked))
    with store.recorder.datastore.get_connection() as conn:
        conn.execute(  # a snapshot's content marks what was loaded from it
            "UPDATE chronicle_snapshots SET state = %s WHERE originator_id = %s"
            " AND originator_version = 100",
            (resealed.state, document.id),
        )
    documents = Documents(store, CommandRunner(store))
    at = documents.at("acme", document.id, 150)
    assert at.revision == 150 and "98!" in at.content and at.content.endswith("149;")


def test_taking_a_snapshot_twice_is_harmless(store: PostgresEventStore) -> None:
    conversation = long_conversation(store, 99)
    assert snapshot_versions(store, conversation.id) == [100]
    store.snapshots.take(conversation.id, 100)
    assert snapshot_versions(store, conversation.id) == [100]
