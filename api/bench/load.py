"""Load scenario: cold loads (not from the in-process cache) of a conversation with
10,000 events and of one with 100, and the 10,000 replayed without snapshots.
"""

from __future__ import annotations

import statistics
import time
import uuid
from uuid import UUID

from eventsourcing.application import project_aggregate

from application.context import CommandContext
from application.ports import Change
from domain.conversation import Conversation
from infrastructure.event_store import PostgresEventStore

CHUNK = 100


def long_conversation(store: PostgresEventStore, events: int) -> UUID:
    """A conversation of ``events`` events, committed ``CHUNK`` messages at a time."""
    context = CommandContext("bench", "bench", "conversations.post")
    conversation = Conversation.start("bench", f"{events} events", ["ada"])
    while conversation.version < events:
        for _ in range(min(CHUNK - conversation.version % CHUNK, events - conversation.version)):
            conversation.post_message(uuid.uuid4(), "user", "a message of ten words or so", None, 9)
        store.portal.call(store.commit, context, Change((conversation,), conversation))
    return conversation.id


def cold_loads_ms(
    store: PostgresEventStore, aggregate_ids: list[UUID], repeats: int
) -> list[float]:
    """The median wall time (ms) of cold loads of each aggregate, taken in turns so that
    a change in the machine's load touches every aggregate alike."""
    times: list[list[float]] = [[] for _ in aggregate_ids]
    for _ in range(repeats):
        for samples, aggregate_id in zip(times, aggregate_ids, strict=True):
            began = time.perf_counter()
            store.load_cold(aggregate_id)
            samples.append((time.perf_counter() - began) * 1000)
    return [statistics.median(samples) for samples in times]


def replay_ms(store: PostgresEventStore, aggregate_id: UUID, repeats: int) -> float:
    """Loading every event and applying it, as the library does without snapshots."""
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        project_aggregate(None, store.app.events.get(aggregate_id))
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)
