"""A bounded FIFO for one consumer on the event loop, cheap while empty: what a live
client's session waits on. It knows nothing of events; it must not block.

`asyncio.Queue` holds four deques (its items, getters, putters and an `Event`'s waiters)
from birth, and a wait with a timeout over it runs a task; a mailbox holds its items only
while it has some, and a wait is one future and one timer.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class MailboxFull(Exception):
    """A put into a mailbox holding its limit."""


class Mailbox(Generic[T]):
    """Holds up to ``limit`` items for one consumer at a time (`get`); `put_nowait` never
    waits (`MailboxFull` at the limit)."""

    __slots__ = ("_items", "_waiter", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: deque[T] | None = None
        self._waiter: asyncio.Future[None] | None = None

    def __len__(self) -> int:
        return len(self._items) if self._items is not None else 0

    def put_nowait(self, item: T) -> None:
        if self._items is None:
            self._items = deque()
        elif len(self._items) >= self.limit:
            raise MailboxFull
        self._items.append(item)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def clear(self) -> None:
        self._items = None

    def get_nowait(self) -> T:
        """The oldest item; `IndexError` when there is none."""
        if self._items is None:
            raise IndexError("the mailbox is empty")
        item = self._items.popleft()
        if not self._items:
            self._items = None  # an idle client holds no deque
        return item

    async def get(self, seconds: float | None = None) -> T:
        """The oldest item, waiting for one up to ``seconds`` (`TimeoutError`)."""
        if self._items is not None:
            return self.get_nowait()
        if self._waiter is not None:
            raise RuntimeError("a mailbox has one consumer")
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        timer = None if seconds is None else loop.call_later(seconds, _wake, waiter)
        try:
            await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()
        if self._items is None:
            raise TimeoutError
        return self.get_nowait()


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
