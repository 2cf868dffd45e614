"""The scheduler's thread outlives a failed tick (no I/O: stand-in tasks and queue)."""

from __future__ import annotations

import threading
from typing import Any, cast
from uuid import UUID, uuid4

from application.context import CommandContext
from application.errors import StoreUnavailable
from infrastructure.portal import Portal
from infrastructure.scheduler import Scheduler


class Queue:
    def __init__(self) -> None:
        self.task = uuid4()

    def expired_leases(self) -> list[tuple[UUID, str]]:
        return [(self.task, "acme")]

    def forget_claims(self) -> int:
        return 0


class Tasks:
    """Its first timeout finds the store unreachable, as during a database restart."""

    def __init__(self) -> None:
        self.calls = 0
        self.timed_out = threading.Event()

    async def time_out(self, context: CommandContext, task_id: UUID) -> object:
        self.calls += 1
        if self.calls == 1:
            raise StoreUnavailable("the event store cannot be reached")
        self.timed_out.set()
        return object()


def test_a_tick_that_finds_the_store_unavailable_does_not_end_the_scheduler() -> None:
    tasks, portal = Tasks(), Portal()
    scheduler = Scheduler(cast(Any, tasks), cast(Any, Queue()), portal, tick=0.01)
    scheduler.start()
    try:
        assert tasks.timed_out.wait(5), "the scheduler stopped after a failed tick"
    finally:
        scheduler.stop()
        portal.close()
    assert tasks.calls >= 2
