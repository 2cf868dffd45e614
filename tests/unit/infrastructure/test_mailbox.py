"""A live client's mailbox: bounded, first in first out, one waiting consumer."""

from __future__ import annotations

import asyncio

import pytest

from infrastructure.mailbox import Mailbox, MailboxFull


async def test_items_come_out_in_the_order_they_went_in() -> None:
    box: Mailbox[int] = Mailbox(3)
    for i in range(3):
        box.put_nowait(i)
    assert [await box.get(), await box.get(), box.get_nowait()] == [0, 1, 2]
    assert len(box) == 0


async def test_a_put_over_the_limit_is_refused_and_clear_empties() -> None:
    box: Mailbox[int] = Mailbox(2)
    box.put_nowait(1)
    box.put_nowait(2)
    with pytest.raises(MailboxFull):
        box.put_nowait(3)
    box.clear()
    with pytest.raises(IndexError):
        box.get_nowait()
    box.put_nowait(4)
    assert box.get_nowait() == 4


async def test_a_waiting_consumer_wakes_on_a_put() -> None:
    box: Mailbox[str] = Mailbox(10)
    waiting = asyncio.ensure_future(box.get(5.0))
    await asyncio.sleep(0)
    box.put_nowait("event")
    assert await asyncio.wait_for(waiting, 1.0) == "event"


async def test_a_wait_times_out_and_the_mailbox_can_be_waited_on_again() -> None:
    box: Mailbox[str] = Mailbox(10)
    with pytest.raises(TimeoutError):
        await box.get(0.01)
    box.put_nowait("later")
    assert await box.get(0.01) == "later"


async def test_a_cancelled_wait_leaves_the_mailbox_usable() -> None:
    box: Mailbox[str] = Mailbox(10)
    waiting = asyncio.ensure_future(box.get())
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    box.put_nowait("next")
    assert await box.get(0.1) == "next"
