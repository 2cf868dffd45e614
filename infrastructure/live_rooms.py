"""Live fan-out of one aggregate's events to its followers in this API process: one
follower of the hub per aggregate (a room), handing each event to every member at once.

A room knows nothing of what members do with the events: each takes what was handed to
it since it last looked, in order, so a member that is behind takes several at once. A
member that falls too far behind is let go (`Member.take` answers ``None``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import anyio.to_thread
import structlog

from infrastructure.live_hub import Filter, LiveEvent, LiveHub, Resync, follow

log = structlog.get_logger(__name__)
IDLE_SECONDS = 15.0  # the room's follower wakes this often with nothing to hand over


@dataclass(eq=False)
class Member:
    """One follower of a room: what was handed to it and not yet taken, at most ``limit``."""

    limit: int
    items: list[LiveEvent] = field(default_factory=list)
    overflowed: bool = False
    _ready: asyncio.Event = field(default_factory=asyncio.Event)

    def offer(self, event: LiveEvent) -> None:
        if self.overflowed:
            return
        if len(self.items) >= self.limit:
            self.let_go()
            return
        self.items.append(event)
        self._ready.set()

    def let_go(self) -> None:
        self.overflowed = True
        self.items = []  # free the memory now; the member resyncs
        self._ready.set()

    async def take(self) -> list[LiveEvent] | None:
        """Every event handed over since the last take (at least one), in order; ``None``
        once the member fell behind or its room failed (it must resync)."""
        while not self.items and not self.overflowed:
            self._ready.clear()
            await self._ready.wait()
        if self.overflowed:
            return None
        items, self.items = self.items, []
        return items


class Room:
    """The members following one set of filters of a tenant, and the one follower of the
    hub that feeds them, from the position it was opened at."""

    def __init__(self, hub: LiveHub, tenant: str, filters: tuple[Filter, ...]) -> None:
        self.hub = hub
        self.tenant = tenant
        self.filters = filters
        self.members: set[Member] = set()
        self.failed = False
        self._task: asyncio.Task[None] | None = None
        # Its own task: a member that goes while the room opens does not stop it for others.
        self.opened = asyncio.ensure_future(self._open())

    async def _open(self) -> None:
        """Take the log's head and follow from it (a member that joins once this is done
        is handed every event after what it can read from the log then)."""
        try:
            cursor = await anyio.to_thread.run_sync(self.hub.events.head)
        except BaseException:
            self.failed = True
            raise
        self._task = asyncio.create_task(self._follow(cursor), name="live-room")

    def close(self) -> None:
        self.opened.cancel()
        if self._task is not None:
            self._task.cancel()

    async def _follow(self, cursor: int) -> None:
        try:
            while True:
                events = follow(
                    self.hub, self.tenant, self.filters, cursor, buffer=self.hub.buffer,
                    keepalive=IDLE_SECONDS,
                )  # fmt: skip
                try:
                    async for item in events:
                        if isinstance(item, Resync):  # the room itself fell behind: read on
                            cursor = item.cursor
                            break
                        if item is None or item.ephemeral:
                            continue
                        cursor = item.position
                        for member in self.members:
                            member.offer(item)
                finally:
                    await events.aclose()  # type: ignore[attr-defined]
        except Exception:
            log.exception("a live room failed; its members resync", tenant=self.tenant)
            self.failed = True
            for member in self.members:
                member.let_go()


class LiveRooms:
    """This process's rooms, one per tenant and filters, open while they have members."""

    def __init__(self, hub: LiveHub) -> None:
        self.hub = hub
        self._rooms: dict[tuple[str, tuple[Filter, ...]], Room] = {}

    @contextlib.asynccontextmanager
    async def joined(
        self, tenant: str, filters: tuple[Filter, ...], limit: int
    ) -> AsyncIterator[Member]:
        """A member of the room of ``filters``: every event committed after this returns
        is handed to it (and some before, which a caller that reads the log then tells
        apart by their positions or revisions)."""
        key = (tenant, filters)
        room = self._rooms.get(key)
        member = Member(limit)
        if room is None or room.failed:
            room = self._rooms[key] = Room(self.hub, tenant, filters)
        room.members.add(member)
        try:
            await asyncio.shield(room.opened)
            yield member
        finally:
            room.members.discard(member)
            if not room.members and self._rooms.get(key) is room:
                del self._rooms[key]
                room.close()

    def close(self) -> None:
        for room in self._rooms.values():
            room.close()
        self._rooms.clear()
