"""The log follower on both faces, on a real server: an append's notification wakes it
long before its poll interval, and a connection lost under it is replaced."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import psycopg
from psycopg.sql import SQL, Identifier

from infrastructure.event_log import AsyncConn
from infrastructure.event_store import EVENTS_TABLE
from infrastructure.log_follower import AsyncFollowing, AsyncLogFollower, LogFollower, Retrying
from infrastructure.read_models import Conn
from infrastructure.settings import Settings
from infrastructure.supervisor import Backoff
from tests.integration.test_projection_engine import wait_until

QUICK = Backoff(first_s=0.05, most_s=0.1, stable_s=60)
NEVER = 60.0  # a poll interval the test never reaches: only a notification wakes it


def notify(dsn: str) -> None:
    """What every append does (the table's trigger), without an event."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(SQL("NOTIFY {0}").format(Identifier(EVENTS_TABLE)))


def cut(dsn: str) -> None:
    """End every other session on the database, as a server restart would."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


def test_a_follower_on_a_thread_wakes_on_a_notification_and_outlives_its_connection(
    scratch: Settings,
) -> None:
    dsn = scratch.database_url
    assert dsn
    follower = LogFollower(dsn, Retrying("test follower", backoff=QUICK), poll_seconds=NEVER)
    starts: list[Conn] = []
    steps: list[float] = []

    def step(conn: Conn) -> bool:
        conn.execute("SELECT 1")
        steps.append(time.monotonic())
        return False  # nothing more: wait

    stop = threading.Event()
    thread = threading.Thread(target=follower.run, args=(stop, step, starts.append))
    thread.start()
    try:
        wait_until(lambda: len(steps) == 1, 10, "the first step")
        notify(dsn)
        wait_until(lambda: len(steps) == 2, 5, "a step on the notification")
        cut(dsn)
        wait_until(lambda: len(starts) == 2, 10, "a start on new connections")
        wait_until(lambda: len(steps) == 3, 5, "the first step after it")
        notify(dsn)
        wait_until(lambda: len(steps) == 4, 5, "a step on the next notification")
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()  # a stop is seen within a slice, not the poll interval


async def test_a_follower_on_an_event_loop_wakes_on_a_notification_and_outlives_its_connection(
    scratch: Settings,
) -> None:
    dsn = scratch.database_url
    assert dsn
    follower = AsyncLogFollower(dsn, Retrying("test follower", backoff=QUICK), poll_seconds=NEVER)
    sessions: list[AsyncFollowing] = []
    steps: list[float] = []

    async def step(conn: AsyncConn) -> bool:
        await conn.execute("SELECT 1")
        steps.append(time.monotonic())
        return False

    stop = asyncio.Event()

    async def session() -> None:
        async with follower.connected() as following:
            sessions.append(following)
            await follower.follow(following, step, stop)

    async def until(condition: Callable[[], bool], what: str, timeout: float = 5) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            await asyncio.sleep(0.05)

    task = asyncio.create_task(follower.supervise(session, stop))
    try:
        await until(lambda: len(steps) == 1, "the first step", 10)
        await asyncio.to_thread(notify, dsn)
        await until(lambda: len(steps) == 2, "a step on the notification")
        await asyncio.to_thread(cut, dsn)
        await until(lambda: len(sessions) == 2, "a session on new connections", 10)
        await until(lambda: len(steps) == 3, "the first step after it")
        await asyncio.to_thread(notify, dsn)
        await until(lambda: len(steps) == 4, "a step on the next notification")
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)  # a stop ends the wait at once
