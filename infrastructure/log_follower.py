"""Following the event log: waiting for what follows a position (LISTEN on the events
table's channel, polling as the fallback for a lost notification) and starting again
after a failure, with backoff; on a thread (`LogFollower`) or an event loop
(`AsyncLogFollower`), with the same steps and the same waiting.

The projector, the chain sealer, the relay and `chronicle events tail --follow` follow the
log with it, and the live hub (which NATS wakes) retries its repairs with `Retrying`; each
reads through `infrastructure.event_log.LogReader` and keeps what is its own (its
checkpoint, its transaction, what it does with a batch).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import structlog
from psycopg.rows import dict_row
from psycopg.sql import SQL, Identifier

from infrastructure.event_log import AsyncConn
from infrastructure.event_store import EVENTS_TABLE
from infrastructure.read_models import Conn, connect
from infrastructure.supervisor import Backoff

log = structlog.get_logger(__name__)

# A follower that had run this long starts its retries from the first delay again.
RETRIES = Backoff(first_s=0.1, most_s=5.0, stable_s=10.0)
TRANSIENT: tuple[type[Exception], ...] = (psycopg.OperationalError, psycopg.InterfaceError)
STOP_CHECK_SECONDS = 0.25


class Retrying:
    """The delay before each new try, doubling while the tries keep failing, and the log
    of each failure: a warning for an ``expected`` one, else the error with its traceback
    (``<name> failed``)."""

    def __init__(
        self,
        name: str,
        *,
        expected: tuple[type[Exception], ...] = TRANSIENT,
        backoff: Backoff = RETRIES,
        **fields: Any,
    ) -> None:
        self.name = name
        self.expected = expected
        self.backoff = backoff
        self.fields = fields
        self._failures = 0

    def succeeded(self) -> None:
        self._failures = 0

    def failed(self, error: Exception, ran_s: float) -> float:
        """Log ``error`` (after a try that ran ``ran_s``); the delay before the next."""
        if ran_s >= self.backoff.stable_s:
            self._failures = 0  # it had worked: a new outage starts from the first delay
        self._failures += 1
        delay = self.backoff.delay(self._failures)
        if isinstance(error, self.expected):
            log.warning(
                f"{self.name} interrupted; retrying",
                error=f"{type(error).__name__}: {error}",
                retry_in_s=delay,
                **self.fields,
            )
        else:  # not an event's fault, and a follower that died would fall behind silently
            log.exception(f"{self.name} failed", retry_in_s=delay, **self.fields)
        return delay


class _Follower:
    """What both faces share: the connection string, the retries, the waiting."""

    def __init__(
        self,
        dsn: str,
        retrying: Retrying,
        *,
        poll_seconds: float = 1.0,
        listen: bool = True,
        channel: str = EVENTS_TABLE,
    ) -> None:
        self.dsn = dsn
        self.retrying = retrying
        self.poll_seconds = poll_seconds
        self.listen = listen
        self.listen_statement = SQL("LISTEN {0}").format(Identifier(channel))


@dataclass(frozen=True)
class Following:
    """A connection for the follower's own work (its transactions) and one that listens."""

    conn: Conn
    listener: psycopg.Connection[Any]


@dataclass(frozen=True)
class AsyncFollowing:
    conn: AsyncConn
    listener: psycopg.AsyncConnection[Any]


class LogFollower(_Follower):
    """Follows the log on a thread until a stop."""

    def run(
        self,
        stop: threading.Event,
        step: Callable[[Conn], bool],
        start: Callable[[Conn], None] = lambda conn: None,
    ) -> None:
        """On connections of its own, ``start`` once, then `follow` with ``step``; all of
        it again after a failure."""

        def session() -> None:
            with self.connected() as following:
                start(following.conn)
                self.follow(following, step, stop)

        self.supervise(session, stop)

    def supervise(self, session: Callable[[], None], stop: threading.Event) -> None:
        """Run ``session`` until ``stop``, again after each failure (see `Retrying`)."""
        while not stop.is_set():
            began = time.monotonic()
            try:
                session()
                self.retrying.succeeded()
            except Exception as error:
                stop.wait(self.retrying.failed(error, time.monotonic() - began))

    @contextlib.contextmanager
    def connected(self) -> Iterator[Following]:
        with connect(self.dsn) as conn, connect(self.dsn) as listener:
            yield Following(conn, listener)

    def follow(
        self, following: Following, step: Callable[[Conn], bool], stop: threading.Event
    ) -> None:
        """``step`` until ``stop``: again at once while it says more may be there, else
        after a notification or the poll interval."""
        if self.listen:  # before the first step: nothing appended after it goes unheard
            following.listener.execute(self.listen_statement)
        while not stop.is_set():
            if not step(following.conn):
                self.wait(following.listener, stop)

    def wait(self, listener: psycopg.Connection[Any], stop: threading.Event) -> None:
        """Until a notification, the poll interval, or a stop."""
        if not self.listen:
            stop.wait(self.poll_seconds)
            return
        deadline = time.monotonic() + self.poll_seconds
        # A stop cannot wake `notifies`: wait in slices, so that one is seen soon.
        while not stop.is_set() and (remaining := deadline - time.monotonic()) > 0:
            for _ in listener.notifies(timeout=min(remaining, STOP_CHECK_SECONDS), stop_after=1):
                return


class AsyncLogFollower(_Follower):
    """`LogFollower` for an event loop."""

    async def supervise(self, session: Callable[[], Awaitable[None]], stop: asyncio.Event) -> None:
        """Run ``session`` until ``stop``, again after each failure (see `Retrying`)."""
        while not stop.is_set():
            began = time.monotonic()
            try:
                await session()
                self.retrying.succeeded()
            except Exception as error:
                delay = self.retrying.failed(error, time.monotonic() - began)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)

    @contextlib.asynccontextmanager
    async def connected(self) -> AsyncIterator[AsyncFollowing]:
        async with (
            await psycopg.AsyncConnection.connect(
                self.dsn, autocommit=True, row_factory=dict_row
            ) as conn,
            await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as listener,
        ):
            yield AsyncFollowing(conn, listener)

    async def follow(
        self,
        following: AsyncFollowing,
        step: Callable[[AsyncConn], Awaitable[bool]],
        stop: asyncio.Event,
    ) -> None:
        """`LogFollower.follow`, awaited."""
        if self.listen:
            await following.listener.execute(self.listen_statement)
        while not stop.is_set():
            if not await step(following.conn):
                await self.wait(following.listener, stop)

    async def wait(self, listener: psycopg.AsyncConnection[Any], stop: asyncio.Event) -> None:
        """Until a notification, the poll interval, or a stop."""
        stopped = asyncio.ensure_future(stop.wait())
        waits: set[asyncio.Future[Any]] = {stopped}
        if self.listen:
            notifies = listener.notifies(timeout=self.poll_seconds, stop_after=1)
            waits.add(asyncio.ensure_future(anext(aiter(notifies), None)))
        done, pending = await asyncio.wait(
            waits, timeout=self.poll_seconds, return_when=asyncio.FIRST_COMPLETED
        )
        for task in pending:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for task in done:
            task.result()  # a lost listener raises here
