"""The relay: publishes every committed event to JetStream, in position order, once.

It follows the log like a projector, publishes with ``Nats-Msg-Id`` = position (so a
re-published event is dropped by JetStream), and moves its checkpoint only after
JetStream has acknowledged. One relay is active at a time (a PostgreSQL advisory lock);
others wait as standbys.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from datetime import timedelta
from typing import Any

import nats
import psycopg
import structlog
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError
from psycopg.rows import dict_row
from psycopg.sql import SQL, Identifier

from domain.events import RecordedEvent
from infrastructure.envelope import STREAM_NAME, SUBJECT_PREFIX, cloud_event, subject_of
from infrastructure.event_store import EVENTS_TABLE
from infrastructure.read_models import SETUP_LOCK, Decoder

log = structlog.get_logger(__name__)

RELAY_LOCK = 0x52_45_4C_41  # "RELA"
CHECKPOINT_DDL = (
    "CREATE TABLE IF NOT EXISTS chronicle_relay ("
    " name text PRIMARY KEY, position bigint NOT NULL DEFAULT 0,"
    " updated_at timestamptz NOT NULL DEFAULT now())"
)
DUPLICATE_WINDOW = timedelta(minutes=10)
RETRY_FIRST_S = 0.1
RETRY_MOST_S = 5.0
STABLE_S = 10.0  # a relay that ran this long starts its retries again from the first delay


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
        decode: Decoder,
        *,
        retention: timedelta = timedelta(days=7),
        batch_size: int = 500,
        poll_seconds: float = 1.0,
        publish_timeout: float = 5.0,
    ) -> None:
        self.dsn = dsn
        self.nats_url = nats_url
        self.decode = decode
        self.retention = retention
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.publish_timeout = publish_timeout
        self.active = asyncio.Event()
        # One round trip: store the checkpoint (what JetStream has acknowledged) and read
        # what follows it. The active relay holds the lock, so its checkpoint is its own.
        self._advance = SQL(
            "WITH stored AS (UPDATE chronicle_relay SET position = %(done)s, updated_at = now()"
            " WHERE name = 'relay' AND position < %(done)s)"
            " SELECT notification_id, originator_id, originator_version, topic, state, tenant_id"
            " FROM {0}"
            " WHERE notification_id > %(done)s ORDER BY notification_id LIMIT %(limit)s"
        ).format(Identifier(EVENTS_TABLE))

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until ``stop`` is set, reconnecting to PostgreSQL and NATS as needed.

        Any error starts it again after a delay that doubles while it keeps failing: one
        it did not foresee too, since nothing else would restart it inside `up`.
        """
        delay = RETRY_FIRST_S
        while not stop.is_set():
            began = time.monotonic()
            try:
                await self._relay(stop)
            except Exception as error:
                if time.monotonic() - began >= STABLE_S:
                    delay = RETRY_FIRST_S  # it had worked: this is a new outage
                log.warning(
                    "relay interrupted; retrying",
                    error=f"{type(error).__name__}: {error}",
                    retry_in_s=delay,
                )
                self.active.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                delay = min(delay * 2, RETRY_MOST_S)

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
            async with (
                await psycopg.AsyncConnection.connect(
                    self.dsn, autocommit=True, row_factory=dict_row
                ) as conn,
                await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as listener,
            ):
                async with conn.transaction():  # serialised with other set-up: IF NOT EXISTS races
                    await conn.execute("SELECT pg_advisory_xact_lock(%s)", (SETUP_LOCK,))
                    await conn.execute(CHECKPOINT_DDL)
                    await conn.execute(
                        "INSERT INTO chronicle_relay (name) VALUES ('relay') ON CONFLICT DO NOTHING"
                    )
                if not await self._become_active(conn, stop):
                    return
                self.active.set()
                await listener.execute(SQL("LISTEN {0}").format(Identifier(EVENTS_TABLE)))
                await self._follow(conn, listener, js, stop, lost)
        finally:
            self.active.clear()
            with contextlib.suppress(Exception):
                await nc.close()

    async def _become_active(
        self, conn: psycopg.AsyncConnection[dict[str, object]], stop: asyncio.Event
    ) -> bool:
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
        conn: psycopg.AsyncConnection[dict[str, object]],
        listener: psycopg.AsyncConnection[tuple[object, ...]],
        js: JetStreamContext,
        stop: asyncio.Event,
        lost: asyncio.Event,
    ) -> None:
        """Publish what follows the checkpoint, batch after batch, waiting for a
        notification when there is nothing new; the checkpoint is stored with each read
        and once more on the way out."""
        row = await (
            await conn.execute("SELECT position FROM chronicle_relay WHERE name = 'relay'")
        ).fetchone()
        assert row is not None
        assert isinstance(row["position"], int)
        done = row["position"]
        while not stop.is_set():
            rows = await (
                await conn.execute(self._advance, {"done": done, "limit": self.batch_size})
            ).fetchall()
            if rows:
                done = await self._publish([self.decode(r) for r in rows], js, lost)
            else:
                await self._wait(listener, stop)
        await conn.execute(self._advance, {"done": done, "limit": 0})

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
        acks = asyncio.gather(
            *(
                js.publish(
                    subject_of(event),
                    cloud_event(event),
                    headers={"Nats-Msg-Id": str(event.position)},
                )
                for event in events
            )
        )
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

    async def _wait(
        self, listener: psycopg.AsyncConnection[tuple[object, ...]], stop: asyncio.Event
    ) -> None:
        """Until a notification, the poll interval, or a stop."""
        notified = asyncio.ensure_future(
            anext(aiter(listener.notifies(timeout=self.poll_seconds, stop_after=1)), None)
        )
        stopped = asyncio.ensure_future(stop.wait())
        done, pending = await asyncio.wait({notified, stopped}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for task in done:
            task.result()


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
