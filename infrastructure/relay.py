"""The relay: publishes every committed event to JetStream, in position order, once.

It follows the log (``infrastructure.log_follower``), publishes with ``Nats-Msg-Id`` =
position (so a re-published event is dropped by JetStream), and moves its checkpoint only
after JetStream has acknowledged. One relay is active at a time (a PostgreSQL advisory
lock); others wait as standbys.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from datetime import timedelta
from typing import Any

import nats
import nats.errors
import structlog
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError
from opentelemetry.trace import Span, SpanKind
from psycopg.sql import SQL

from domain.events import RecordedEvent
from infrastructure import tracing
from infrastructure.envelope import STREAM_NAME, SUBJECT_PREFIX, cloud_event, subject_of
from infrastructure.event_log import AsyncConn, LogReader, RowDecoder
from infrastructure.log_follower import TRANSIENT, AsyncFollowing, AsyncLogFollower, Retrying
from infrastructure.read_models import SETUP_LOCK

log = structlog.get_logger(__name__)

RELAY_LOCK = 0x52_45_4C_41  # "RELA"
CHECKPOINT_DDL = (
    "CREATE TABLE IF NOT EXISTS chronicle_relay ("
    " name text PRIMARY KEY, position bigint NOT NULL DEFAULT 0,"
    " updated_at timestamptz NOT NULL DEFAULT now())"
)
DUPLICATE_WINDOW = timedelta(minutes=10)
# Stores the checkpoint (what JetStream has acknowledged) in the round trip that reads what
# follows it. The active relay holds the lock, so the checkpoint is its own.
STORE = SQL(
    "WITH stored AS (UPDATE chronicle_relay SET position = %(after)s, updated_at = now()"
    " WHERE name = 'relay' AND position < %(after)s)"
)


def stream_config(retention: timedelta) -> StreamConfig:
    return StreamConfig(
        name=STREAM_NAME,
        subjects=[f"{SUBJECT_PREFIX}.>"],
        storage=StorageType.FILE,
        max_age=retention.total_seconds(),
        duplicate_window=DUPLICATE_WINDOW.total_seconds(),
    )


async def ensure_stream(js: JetStreamContext, retention: timedelta) -> None:
    """Create the stream, or update its configuration if it exists."""
    config = stream_config(retention)
    try:
        await js.stream_info(STREAM_NAME)
    except NotFoundError:
        try:
            await js.add_stream(config)
            return
        except BadRequestError:
            pass  # created concurrently
    await js.update_stream(config)


class Relay:
    """Follows the log and publishes each event to JetStream; survives NATS restarts."""

    def __init__(
        self,
        dsn: str,
        nats_url: str,
        decode: RowDecoder[RecordedEvent],
        *,
        retention: timedelta = timedelta(days=7),
        batch_size: int = 500,
        poll_seconds: float = 1.0,
        publish_timeout: float = 5.0,
    ) -> None:
        self.nats_url = nats_url
        self.retention = retention
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.publish_timeout = publish_timeout
        self.active = asyncio.Event()
        self.reader = LogReader(decode)
        # PostgreSQL and NATS going away are expected; anything else is retried as well
        # (nothing else would restart the relay inside `up`), with its traceback.
        retrying = Retrying("relay", expected=(*TRANSIENT, OSError, nats.errors.Error))
        self.follower = AsyncLogFollower(dsn, retrying, poll_seconds=poll_seconds)

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until ``stop`` is set, reconnecting to PostgreSQL and NATS as needed."""
        await self.follower.supervise(lambda: self._relay(stop), stop)

    async def _relay(self, stop: asyncio.Event) -> None:
        lost = asyncio.Event()  # publishes under way when NATS went away are never acknowledged

        async def disconnected() -> None:
            lost.set()

        async def error(error: Exception) -> None:
            log.debug("nats error", error=f"{type(error).__name__}: {error}")

        nc: NatsClient = await nats.connect(
            self.nats_url,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            connect_timeout=2,
            disconnected_cb=disconnected,
            error_cb=error,
        )
        try:
            js = nc.jetstream(timeout=self.publish_timeout)
            await ensure_stream(js, self.retention)
            async with self.follower.connected() as following:
                await self._ensure_checkpoint(following.conn)
                if not await self._become_active(following.conn, stop):
                    return
                self.active.set()
                await self._follow(following, js, stop, lost)
        finally:
            self.active.clear()
            with contextlib.suppress(Exception):
                await nc.close()

    @staticmethod
    async def _ensure_checkpoint(conn: AsyncConn) -> None:
        async with conn.transaction():  # serialised with other set-up: IF NOT EXISTS races
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (SETUP_LOCK,))
            await conn.execute(CHECKPOINT_DDL)
            await conn.execute(
                "INSERT INTO chronicle_relay (name) VALUES ('relay') ON CONFLICT DO NOTHING"
            )

    async def _become_active(self, conn: AsyncConn, stop: asyncio.Event) -> bool:
        while not stop.is_set():
            row = await (
                await conn.execute("SELECT pg_try_advisory_lock(%s) AS ok", (RELAY_LOCK,))
            ).fetchone()
            if row and row["ok"]:
                return True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.poll_seconds)
        return False

    async def _follow(
        self,
        following: AsyncFollowing,
        js: JetStreamContext,
        stop: asyncio.Event,
        lost: asyncio.Event,
    ) -> None:
        """Publish what follows the checkpoint, batch after batch, waiting for a
        notification when there is nothing new; the checkpoint is kept in memory, stored
        with each read and once more on the way out."""
        row = await (
            await following.conn.execute(
                "SELECT position FROM chronicle_relay WHERE name = 'relay'"
            )
        ).fetchone()
        assert row is not None
        done: int = row["position"]

        async def publish_next(conn: AsyncConn) -> bool:
            nonlocal done
            rows = await self.reader.read_async(conn, done, self.batch_size, first=STORE)
            if rows:
                done = await self._publish(self.reader.events(rows), js, lost)
            return bool(rows)

        await self.follower.follow(following, publish_next, stop)
        await self.reader.read_async(following.conn, done, 0, first=STORE)

    async def _publish(
        self, events: list[RecordedEvent], js: JetStreamContext, lost: asyncio.Event
    ) -> int:
        """Publish ``events`` and wait for JetStream's acknowledgements; the last position.

        A lost connection fails the batch at once rather than after the publish timeout:
        the relay starts again from its checkpoint, and JetStream drops the events it
        already has (their ``Nats-Msg-Id``).
        """
        if lost.is_set():
            raise ConnectionError("the connection to NATS was lost")
        spans = [producer_span(event) for event in events] if tracing.enabled() else []
        acks = asyncio.gather(
            *(
                js.publish(
                    subject_of(event),
                    cloud_event(event),
                    headers=headers(event, spans[i] if spans else None),
                )
                for i, event in enumerate(events)
            )
        )
        try:
            return await self._acknowledged(events, acks, lost)
        finally:
            for span in spans:
                span.end()

    @staticmethod
    async def _acknowledged(
        events: list[RecordedEvent], acks: asyncio.Future[list[Any]], lost: asyncio.Event
    ) -> int:
        gone = asyncio.ensure_future(lost.wait())
        either: set[asyncio.Future[Any]] = {acks, gone}
        await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        gone.cancel()
        if not acks.done():
            acks.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await acks
            raise ConnectionError("the connection to NATS was lost while publishing")
        assert all(ack.stream == STREAM_NAME for ack in acks.result())
        return events[-1].position


def producer_span(event: RecordedEvent) -> Span:
    """A producer span for publishing ``event``, a child of its command's span."""
    return tracing.tracer("relay").start_span(
        f"send {STREAM_NAME}",
        context=tracing.context_of(event.metadata.get("traceparent")),
        kind=SpanKind.PRODUCER,
        attributes={
            "messaging.system": "nats",
            "messaging.operation.type": "send",
            "messaging.destination.name": subject_of(event),
            "messaging.message.id": str(event.position),
            "chronicle.tenant": event.tenant_id or "",
        },
    )


def headers(event: RecordedEvent, span: Span | None) -> dict[str, str]:
    """The message's headers: its position as ``Nats-Msg-Id`` (JetStream drops a
    duplicate) and, when traced, the producer span as ``traceparent``."""
    found = {"Nats-Msg-Id": str(event.position)}
    if span is not None and (traceparent := tracing.traceparent_of(span)):
        found["traceparent"] = traceparent
    return found


class RelayThread:
    """A relay on its own thread and event loop, beside a synchronous host process."""

    def __init__(self, relay: Relay) -> None:
        self.relay = relay
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._thread = threading.Thread(target=self._main, name="relay", daemon=True)

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self.relay.run(self._stop))
        self._loop.close()

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout)
