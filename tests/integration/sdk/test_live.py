"""``live``: the resuming follower of /v1/live, against the real API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx

from chronicle_client import AsyncClient, Client, LiveEvent, Retry
from chronicle_client.live import Cursor, Frame
from tests.integration.conftest import KeyFactory
from tests.integration.sdk.proxy import proxy

FAST = Retry(attempts=4, backoff_s=0.05)


async def messages(events: AsyncIterator[LiveEvent], count: int) -> list[LiveEvent]:
    taken: list[LiveEvent] = []
    while len(taken) < count:
        event = await asyncio.wait_for(anext(events), 15)
        if event.type == "MessagePosted":
            taken.append(event)
    return taken


async def test_live_resumes_after_a_dropped_connection_with_nothing_missed_or_twice(
    api_url: str, issue_key: KeyFactory
) -> None:
    key = issue_key()
    async with AsyncClient(api_url, api_key=key) as writer:
        started = await writer.start_conversation(title="Live")
        subjects = [f"conversation.{started.id}"]
        with proxy(api_url) as faulty:
            http = httpx.AsyncClient(timeout=30)
            async with AsyncClient(faulty.url, api_key=key, retry=FAST, http=http) as follower:
                events = follower.live(subjects, cursor=started.position)
                posted = [
                    await writer.post_message(started.id, role="user", content=f"m{i}")
                    for i in range(3)
                ]
                before = await messages(events, 3)
                faulty.cut()
                posted += [
                    await writer.post_message(started.id, role="user", content=f"m{i}")
                    for i in range(3, 6)
                ]
                after = await messages(events, 3)
                await events.aclose()
    assert [e.position for e in before + after] == [p.position for p in posted]
    assert [e.data["data"]["content"] for e in before + after] == [f"m{i}" for i in range(6)]
    resumed = [h for h in faulty.requests if b"last-event-id" in h.lower()]
    assert len(faulty.requests) >= 2
    assert f"last-event-id: {posted[2].position}".encode() in resumed[-1].lower()


def test_the_blocking_live_iterator_follows_from_a_cursor(
    api_url: str, issue_key: KeyFactory
) -> None:
    with Client(api_url, api_key=issue_key()) as client:
        started = client.start_conversation(title="Sync")
        posted = client.post_message(started.id, role="user", content="hi")
        events = client.live([f"conversation.{started.id}"], cursor=started.position)
        first = next(events)
        events.close()
    assert (first.type, first.position) == ("MessagePosted", posted.position)


def test_a_resync_moves_the_cursor_and_the_next_connection_resumes_there() -> None:
    cursor = Cursor(["*"], 5)
    assert [e.position for e in cursor.take(Frame(id="7", event="MessagePosted", data="{}"))] == [7]
    assert list(cursor.take(Frame(id="40", event="resync", data='{"cursor": 40}'))) == []
    assert (cursor.position, cursor.resyncs) == (40, 1)
    assert cursor.headers()["Last-Event-ID"] == "40"
    # A replay overlapping what was taken is not delivered twice; ephemeral events always are.
    assert list(cursor.take(Frame(id="40", event="MessagePosted", data="{}"))) == []
    assert [e.type for e in cursor.take(Frame(event="token_delta", data="{}"))] == ["token_delta"]
