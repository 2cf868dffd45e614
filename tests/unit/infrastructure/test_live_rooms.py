"""Live rooms: one follower of the hub per aggregate hands each event to every member
at once; a member takes all that waits together, and one too far behind is let go."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, cast

from infrastructure.event_log import EventLog
from infrastructure.live_hub import Filter, LiveEvent, LiveHub
from infrastructure.live_rooms import LiveRooms

DOCUMENT = str(uuid.uuid4())
FILTERS = (Filter("document", DOCUMENT),)


class EmptyLog:
    """A log with nothing in it: the rooms follow from its head, live only (or one that
    cannot be read, while ``broken``)."""

    broken = False

    def head(self) -> int:
        return 0

    def after(self, position: int, limit: int, tenant: str | None = None) -> list[Any]:
        if self.broken:
            raise ConnectionError("the log cannot be read")
        return []


def hub() -> LiveHub:
    return LiveHub(cast(Any, None), cast(EventLog, EmptyLog()))


def deliver(live: LiveHub, *positions: int) -> list[LiveEvent]:
    """What the hub's dispatch does with events it got from NATS."""
    events = [
        LiveEvent(p, "acme", "document", DOCUMENT, "OperationApplied", b"{}") for p in positions
    ]
    for event in events:
        for subscriber in live.subscribers.wanting(event):
            subscriber.offer(event)
    return events


async def following(live: LiveHub, count: int) -> None:
    """Until the hub has ``count`` subscribers (a room reads the log in a thread first)."""
    for _ in range(500):
        if len(live.subscribers) == count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{len(live.subscribers)} subscribers, not {count}")


async def test_members_of_one_aggregate_share_one_follower_and_take_what_waits_together() -> None:
    live = hub()
    rooms = LiveRooms(live)
    async with (
        rooms.joined("acme", FILTERS, 100) as ada,
        rooms.joined("acme", FILTERS, 100) as bob,
    ):
        await following(live, 1)
        sent = deliver(live, 1, 2, 3)
        async with asyncio.timeout(5):
            assert await ada.take() == sent
            assert await bob.take() == sent
            more = deliver(live, 4)
            assert await ada.take() == more
    await following(live, 0)  # the room closed with its last member


async def test_a_member_too_far_behind_is_let_go_and_the_others_go_on() -> None:
    live = hub()
    rooms = LiveRooms(live)
    async with (
        rooms.joined("acme", FILTERS, 2) as slow,
        rooms.joined("acme", FILTERS, 100) as quick,
    ):
        await following(live, 1)
        sent = deliver(live, 1, 2, 3)
        async with asyncio.timeout(5):
            assert await slow.take() is None
            assert await quick.take() == sent


async def test_a_room_that_fails_lets_its_members_go_and_the_next_gets_a_new_one() -> None:
    log = EmptyLog()
    live = LiveHub(cast(Any, None), cast(EventLog, log))
    rooms = LiveRooms(live)
    log.broken = True
    async with rooms.joined("acme", FILTERS, 100) as before, asyncio.timeout(5):
        assert await before.take() is None
    log.broken = False
    async with rooms.joined("acme", FILTERS, 100) as after:
        await following(live, 1)
        sent = deliver(live, 1)
        async with asyncio.timeout(5):
            assert await after.take() == sent
