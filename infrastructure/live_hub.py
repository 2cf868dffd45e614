"""Live fan-out inside one API process: a hub fed by NATS, repaired from PostgreSQL, and
per-client sessions that resume from a cursor with no gap and no duplicate.

NATS is the fast path; the log is the truth. The hub dispatches events in position
order; when it sees a jump, reconnects, or hears nothing for a while, it reads what it
may have missed from the log, so a lost message only delays. Each session replays from
the log, registers with the hub, replays once more to close the race, then follows the
hub, skipping positions it has sent. A session's buffer is bounded: a client that falls
too far behind is told to resync and let go.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, replace
from functools import partial
from uuid import UUID

import anyio.to_thread
import structlog
from nats.aio.msg import Msg
from opentelemetry.trace import SpanKind

from domain.events import RecordedEvent
from infrastructure import tracing
from infrastructure.connections import NatsConnection
from infrastructure.deltas import DELTA_PREFIX
from infrastructure.envelope import SUBJECT_PREFIX, cloud_event, wire_type
from infrastructure.event_log import EventLog
from infrastructure.log_follower import Retrying
from infrastructure.mailbox import Mailbox, MailboxFull
from infrastructure.personal_fields import PersonalFields
from infrastructure.subject_keys import KeysNotLoaded

log = structlog.get_logger(__name__)

CATEGORIES = frozenset(
    {"conversation", "run", "task", "document", "audit", "user", "announcement", "alert"}
)
TYPE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
PAGE = 500
IDLE_REPAIR_SECONDS = 1.0
INBOX_LIMIT = 100_000
BURST = 64  # events dispatched before sessions are let run


class InvalidFilter(ValueError):
    """A ``subjects`` filter that is not ``category[.id|*[.Type|*]]``, ``Type`` or ``*``."""


@dataclass(frozen=True, slots=True)
class LiveEvent:
    """An event on its way to live clients: routing fields and its CloudEvent JSON."""

    position: int
    tenant: str
    category: str
    aggregate_id: str
    type: str
    payload: bytes
    ephemeral: bool = False  # token deltas: live only, no position, never replayed
    traceparent: str | None = None  # the span that published it (or its command's)

    @classmethod
    def of(cls, event: RecordedEvent) -> LiveEvent:
        return cls(
            event.position,
            event.tenant_id,
            event.category,
            str(event.aggregate_id),
            wire_type(event),
            cloud_event(event),
            traceparent=event.metadata.get("traceparent"),
        )


@dataclass(frozen=True, slots=True)
class Filter:
    """Matches events by category, aggregate id and type; ``None`` matches anything."""

    category: str | None = None
    aggregate_id: str | None = None
    type: str | None = None

    @classmethod
    def parse(cls, text: str) -> Filter:
        parts = text.strip().split(".")
        if parts == ["*"]:
            return cls()
        if len(parts) == 1 and parts[0] not in CATEGORIES:
            if not TYPE_NAME.fullmatch(parts[0]):
                raise InvalidFilter(f"not a subject filter: {text!r}")
            return cls(type=parts[0])
        if parts[0] not in CATEGORIES or len(parts) > 3:
            raise InvalidFilter(
                f"not a subject filter: {text!r}; use category[.id|*[.Type|*]] with a category"
                f" of {', '.join(sorted(CATEGORIES))}, or an event type"
            )
        aggregate = parts[1] if len(parts) > 1 and parts[1] != "*" else None
        if aggregate is not None:
            try:
                aggregate = str(UUID(aggregate))
            except ValueError:
                raise InvalidFilter(f"not an aggregate id in {text!r}") from None
        kind = parts[2] if len(parts) > 2 and parts[2] != "*" else None
        if kind is not None and not TYPE_NAME.fullmatch(kind):
            raise InvalidFilter(f"not an event type in {text!r}")
        return cls(parts[0], aggregate, kind)

    def matches(self, event: LiveEvent) -> bool:
        return (
            (self.category is None or self.category == event.category)
            and (self.aggregate_id is None or self.aggregate_id == event.aggregate_id)
            and (self.type is None or self.type == event.type)
        )


def within(
    filters: tuple[Filter, ...], allowed: Iterable[tuple[str, str | None]]
) -> tuple[Filter, ...]:
    """What of ``filters`` (none: everything) falls in what is ``allowed``, each a
    (category, aggregate id, or ``None`` for the whole category): a filter per allowed
    item, each naming its category, so the result matches nothing else (and is empty
    when nothing could match, which a caller must refuse rather than follow everything)."""
    wanted = filters or (Filter(),)
    return tuple(
        Filter(category, aggregate or f.aggregate_id, f.type)
        for category, aggregate in sorted(allowed, key=lambda item: (item[0], item[1] or ""))
        for f in wanted
        if f.category in (None, category) and f.aggregate_id in (None, aggregate or f.aggregate_id)
    )


class Subscriber:
    """One client's registration: its tenant, filters and bounded buffer."""

    __slots__ = ("buffer", "filters", "overflowed", "tenant")

    def __init__(
        self, tenant: str, filters: tuple[Filter, ...], buffer: Mailbox[LiveEvent | None]
    ) -> None:
        self.tenant = tenant
        self.filters = filters
        self.buffer = buffer
        self.overflowed = False

    def wants(self, event: LiveEvent) -> bool:
        return event.tenant == self.tenant and (
            not self.filters or any(f.matches(event) for f in self.filters)
        )

    def offer(self, event: LiveEvent) -> None:
        if self.overflowed:
            return
        try:
            self.buffer.put_nowait(event)
        except MailboxFull:
            self.overflowed = True
            self.buffer.clear()  # free the memory now; the client resyncs
            self.buffer.put_nowait(None)  # wakes the session to send its resync


class Subscribers:
    """The registered subscribers, indexed so an event meets only those that may want it.

    A subscriber whose every filter names an aggregate is found under those aggregates;
    any other (no filter, or one by category or type) under its tenant. An event's
    candidates are its aggregate's and its tenant's, so a thousand clients each following
    their own conversation cost an event a lookup, not a thousand comparisons.
    """

    def __init__(self) -> None:
        self._keys: dict[Subscriber, list[tuple[str, str | None]]] = {}
        self._index: dict[tuple[str, str | None], set[Subscriber]] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, subscriber: Subscriber) -> None:
        aggregates = {f.aggregate_id for f in subscriber.filters}
        if not subscriber.filters or None in aggregates:
            aggregates = {None}
        keys = [(subscriber.tenant, aggregate) for aggregate in aggregates]
        self._keys[subscriber] = keys
        for key in keys:
            self._index.setdefault(key, set()).add(subscriber)

    def discard(self, subscriber: Subscriber) -> None:
        for key in self._keys.pop(subscriber, ()):
            members = self._index[key]
            members.discard(subscriber)
            if not members:
                del self._index[key]

    def wanting(self, event: LiveEvent) -> list[Subscriber]:
        """The subscribers that want ``event`` (a list: offering may not change the index)."""
        index = self._index
        candidates = [
            *index.get((event.tenant, event.aggregate_id), ()),
            *index.get((event.tenant, None), ()),
        ]
        return [subscriber for subscriber in candidates if subscriber.wants(event)]


@dataclass(frozen=True)
class Resync:
    """Tells a client it fell behind and must reconnect from ``cursor``."""

    cursor: int


class LiveHub:
    """Dispatches each event once, in position order, to the subscribers that want it."""

    def __init__(
        self,
        nats: NatsConnection,
        events: EventLog,
        buffer: int = 1000,
        personal: PersonalFields | None = None,
    ) -> None:
        self.nats = nats
        self.events = events
        self.personal = personal  # opens the personal values the relay published sealed
        self.buffer = buffer  # events held for a client that falls behind, before a resync
        self.subscribers = Subscribers()
        self.last = 0
        self._inbox: asyncio.Queue[LiveEvent | None] = asyncio.Queue(INBOX_LIMIT)
        self._lost = False
        self._tasks: list[asyncio.Task[None]] = []
        self._watchers: dict[str, list[Callable[[LiveEvent], None]]] = {}
        self._retrying = Retrying("live hub")

    def watch(self, event_type: str, callback: Callable[[LiveEvent], None]) -> None:
        """Call ``callback(event)`` for each event of this type, whoever follows it, before
        any later event is dispatched."""
        self._watchers.setdefault(event_type, []).append(callback)

    async def start(self) -> None:
        self.last = await anyio.to_thread.run_sync(self.events.head)
        self._tasks = [
            asyncio.create_task(self._subscribe(), name="live-subscribe"),
            asyncio.create_task(self._dispatch_loop(), name="live-dispatch"),
        ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def register(self, tenant: str, filters: tuple[Filter, ...], buffer: int) -> Subscriber:
        subscriber = Subscriber(tenant, filters, Mailbox(buffer))
        self.subscribers.add(subscriber)
        return subscriber

    def unregister(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)

    async def _subscribe(self) -> None:
        """Subscribe once connected, and again after every reconnect to a new client."""
        subscribed_to = None
        while True:
            client = self.nats.client
            if client is not None and client is not subscribed_to and client.is_connected:
                await client.subscribe(
                    f"{SUBJECT_PREFIX}.>", cb=self._on_message, pending_msgs_limit=INBOX_LIMIT
                )
                await client.subscribe(f"{DELTA_PREFIX}.>", cb=self._on_delta)
                subscribed_to = client
            await asyncio.sleep(0.2)

    async def _on_message(self, msg: Msg) -> None:
        headers = msg.headers or {}
        try:
            _, _, tenant, category, aggregate_id, kind = msg.subject.split(".", 5)
            position = int(headers["Nats-Msg-Id"])
        except (ValueError, KeyError):
            log.warning("unexpected message on the events subject", subject=msg.subject)
            return
        event = LiveEvent(
            position,
            tenant,
            category,
            aggregate_id,
            kind,
            msg.data,
            traceparent=headers.get("traceparent"),
        )
        try:
            self._inbox.put_nowait(event)
        except asyncio.QueueFull:
            self._lost = True  # repaired from the log on the next dispatch

    async def _on_delta(self, msg: Msg) -> None:
        try:
            _, _, tenant, category, aggregate_id, kind = msg.subject.split(".", 5)
        except ValueError:
            return
        delta = LiveEvent(0, tenant, category, aggregate_id, kind, msg.data, ephemeral=True)
        for subscriber in self.subscribers.wanting(delta):
            subscriber.offer(delta)

    async def _dispatch_loop(self) -> None:
        # A burst (what one read from NATS brought) is dispatched at once, so a follower
        # woken by its first event finds the rest queued and takes them together; it is
        # cut short of the followers' buffers, which sessions drain between bursts.
        burst, longest = 0, max(1, min(BURST, self.buffer // 4))
        while True:
            try:  # what is queued already is taken without wait_for's task and timer
                event: LiveEvent | None = self._inbox.get_nowait()
            except asyncio.QueueEmpty:
                try:
                    event = await asyncio.wait_for(self._inbox.get(), IDLE_REPAIR_SECONDS)
                except TimeoutError:
                    event = None
            began = time.monotonic()
            try:
                await self._dispatch(event)
                self._retrying.succeeded()
                burst += 1
                if burst >= longest or self._inbox.empty():
                    burst = 0
                    await asyncio.sleep(0)  # let sessions drain their buffers
            except Exception as error:
                self._lost = True  # what it held is read from the log on the next dispatch
                await asyncio.sleep(self._retrying.failed(error, time.monotonic() - began))

    async def _dispatch(self, event: LiveEvent | None) -> None:
        if event is None or self._lost or event.position > self.last + 1:
            self._lost = False
            await self._repair(event.position - 1 if event else None)
        if event is not None and event.position > self.last:
            self._send(await self._opened(event))

    async def _opened(self, event: LiveEvent) -> LiveEvent:
        """The event with its personal values opened, once for every subscriber (a key not
        read yet is read in a thread)."""
        if self.personal is None or not self.subscribers:
            return event
        try:
            payload = self.personal.open_cloud_event(event.payload, may_load=False)
        except KeysNotLoaded:
            payload = await anyio.to_thread.run_sync(
                partial(self.personal.open_cloud_event, event.payload, may_load=True)
            )
        return replace(event, payload=payload)

    async def _repair(self, upto: int | None) -> None:
        """Dispatch what the log holds after ``last`` (up to ``upto``, or its head)."""
        while upto is None or self.last < upto:
            page = await anyio.to_thread.run_sync(self.events.after, self.last, PAGE)
            for recorded in page:
                if upto is not None and recorded.position > upto:
                    return
                if self.subscribers:
                    self._send(LiveEvent.of(recorded))
                    await asyncio.sleep(0)  # let sessions drain their buffers during a burst
                else:  # nobody to encode it for: only the watchers see it
                    self._advance(recorded.position, wire_type(recorded), recorded)
            if len(page) < PAGE:
                return

    def _send(self, event: LiveEvent) -> None:
        self._advance(event.position, event.type, event)
        wanting = self.subscribers.wanting(event)
        for subscriber in wanting:
            subscriber.offer(event)
        if wanting and tracing.enabled():
            delivered(event, len(wanting))

    def _advance(self, position: int, event_type: str, event: LiveEvent | RecordedEvent) -> None:
        self.last = position
        if watchers := self._watchers.get(event_type):
            live = event if isinstance(event, LiveEvent) else LiveEvent.of(event)
            for callback in watchers:
                callback(live)


def delivered(event: LiveEvent, subscribers: int) -> None:
    """A span for handing ``event`` to this process's live clients: a child of the span
    that published it (the relay's), so it sits in its command's trace."""
    tracing.tracer("api").start_span(
        "process chronicle.live",
        context=tracing.context_of(event.traceparent),
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "nats",
            "messaging.operation.type": "process",
            "messaging.message.id": str(event.position),
            "chronicle.tenant": event.tenant,
            "chronicle.live.subscribers": subscribers,
        },
    ).end()


async def follow(
    hub: LiveHub,
    tenant: str,
    filters: tuple[Filter, ...],
    cursor: int | None,
    *,
    buffer: int = 1000,
    keepalive: float = 15.0,
) -> AsyncIterator[LiveEvent | Resync | None]:
    """Every event after ``cursor`` the tenant may see, in order, once; ``None`` is a
    keep-alive tick; a `Resync` ends the stream. No cursor means "from now".
    """
    last = cursor if cursor is not None else await anyio.to_thread.run_sync(hub.events.head)

    def wanted(event: LiveEvent) -> bool:
        return not filters or any(f.matches(event) for f in filters)

    async def replay() -> AsyncIterator[LiveEvent]:
        nonlocal last
        while True:
            page = await anyio.to_thread.run_sync(hub.events.after, last, PAGE, tenant)
            for recorded in page:
                event = LiveEvent.of(recorded)
                last = event.position
                if wanted(event):
                    yield event
            if len(page) < PAGE:
                return

    async for event in replay():
        yield event
    subscriber = hub.register(tenant, filters, buffer)
    try:
        async for event in replay():
            yield event
        while True:
            try:
                item = await subscriber.buffer.get(keepalive)
            except TimeoutError:
                yield None
                continue
            if item is None:
                yield Resync(last)
                return
            if item.ephemeral:
                yield item
                continue
            if item.position <= last:
                continue
            last = item.position
            yield item
    finally:
        hub.unregister(subscriber)
