"""Group commit: the commands of one event loop share awaited writes, each with an outcome
of its own, and the loop never blocks on the database.

Knows nothing of SQL; the writer it is given decides what a batch is and how members fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from opentelemetry import trace
from opentelemetry.trace import Link, SpanContext

from infrastructure import tracing

MAX_BATCH = 500
T = TypeVar("T")
R = TypeVar("R")
T_contra = TypeVar("T_contra", contravariant=True)
R_co = TypeVar("R_co", covariant=True)


@dataclass
class BatchCounts:
    """How many batches were written and how many items they held (groups of several
    threads and loops may share one)."""

    batches: int = 0
    items: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, size: int) -> None:
        with self._lock:
            self.batches += 1
            self.items += size


class Writer(Protocol[T_contra, R_co]):
    """Writes a batch on the event loop; owns whatever connection it writes on."""

    async def write(self, items: Sequence[T_contra]) -> Sequence[R_co | Exception]: ...

    async def aclose(self) -> None: ...


class GroupCommit(Generic[T, R]):
    """Batches the ``submit`` calls of one event loop's coroutines into awaited writes.

    One writer task writes one batch at a time; what queues during a write goes in the
    next. When the writer was idle and finds callers queued, it writes half of them first:
    while the second half is written, the first half's callers decide their next commands,
    so the loop decides while the database writes instead of taking turns with it
    (decision 5). A batch whose write raises is retried one member at
    a time, so one bad member never fails the others, unless the error is one of
    ``fails_together`` (nothing could be written: with the database unreachable, each
    retry would wait out its own connection timeout).
    """

    def __init__(
        self,
        writer: Writer[T, R],
        *,
        max_batch: int = MAX_BATCH,
        counts: BatchCounts | None = None,
        fails_together: tuple[type[Exception], ...] = (),
    ) -> None:
        self._writer = writer
        self._fails_together = fails_together
        self._max_batch = max_batch
        self._loop = asyncio.get_running_loop()
        # Each caller's item, its future and, when tracing, its command span (to link).
        self._queue: list[tuple[T, asyncio.Future[R], SpanContext | None]] = []
        self._arrived = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._stopped = threading.Event()
        self.counts = counts or BatchCounts()

    @property
    def stopped(self) -> bool:
        """Whether it takes no more items: closed, or its loop has ended."""
        return self._closed or self._loop.is_closed()

    async def submit(self, item: T) -> R:
        """Write ``item`` in the loop's next batch; its outcome or error."""
        if self._closed:
            raise RuntimeError("the group commit is closed")
        future: asyncio.Future[R] = self._loop.create_future()
        caller = trace.get_current_span().get_span_context() if tracing.enabled() else None
        self._queue.append((item, future, caller))
        if self._task is None:
            self._task = self._loop.create_task(self._run(), name="group-commit")
        self._arrived.set()
        return await future

    def close(self, timeout: float = 30.0) -> None:
        """Write what has queued, then stop the writer; from another thread, wait for it
        (up to ``timeout``). Safe from any thread."""
        self._closed = True
        if self._task is None or self._loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            self._loop.call_soon_threadsafe(self._arrived.set)
        if self._loop.is_running() and not self.on_own_loop():
            self._stopped.wait(timeout)

    def on_own_loop(self) -> bool:
        """Whether the caller runs on the loop this group commit writes for."""
        try:
            return asyncio.get_running_loop() is self._loop
        except RuntimeError:
            return False

    async def _run(self) -> None:
        batch: list[tuple[T, asyncio.Future[R], SpanContext | None]] = []
        try:
            while not (self._closed and not self._queue):
                await self._arrived.wait()
                self._arrived.clear()
                take = (len(self._queue) + 1) // 2  # the writer was idle: half first
                while self._queue:
                    batch = self._queue[: min(take, self._max_batch)]
                    del self._queue[: len(batch)]
                    items = [item for item, _, _ in batch]
                    if tracing.enabled():
                        outcomes = await self._write_traced(items, [c for _, _, c in batch])
                    else:
                        outcomes = await self._write_all(items)
                    for (_, future, _), outcome in zip(batch, outcomes, strict=True):
                        settle(future, outcome)
                    self.counts.record(len(batch))
                    batch, take = [], self._max_batch
        finally:
            self._closed = True
            stopped = RuntimeError("the group commit stopped before writing this command")
            for _, future, _ in [*batch, *self._queue]:
                settle(future, stopped)
            self._queue.clear()
            try:
                await self._writer.aclose()
            finally:
                self._stopped.set()

    async def _write_traced(
        self, items: Sequence[T], callers: Sequence[SpanContext | None]
    ) -> Sequence[R | Exception]:
        """`_write_all` in a span of its own, linked to each member's command span."""
        links = [Link(c) for c in callers if c is not None and c.is_valid]
        with (
            tracing.tracer("api").start_as_current_span(
                "group commit",
                context=trace.set_span_in_context(trace.INVALID_SPAN),  # a root: not the caller's
                kind=trace.SpanKind.CLIENT,
                links=links[: tracing.MAX_LINKS],
                attributes={"db.system.name": "postgresql", "chronicle.batch.size": len(items)},
            ) as span
        ):
            outcomes = await self._write_all(items)
            failed = sum(isinstance(o, Exception) for o in outcomes)
            span.set_attribute("chronicle.batch.refused", failed)
            return outcomes

    async def _write_all(self, items: Sequence[T]) -> Sequence[R | Exception]:
        try:
            return await self._writer.write(items)
        except Exception as error:
            if len(items) == 1 or isinstance(error, self._fails_together):
                return [error] * len(items)
        return [await self._write_one(item) for item in items]

    async def _write_one(self, item: T) -> R | Exception:
        try:
            return (await self._writer.write([item]))[0]
        except Exception as error:
            return error


def settle(future: asyncio.Future[R], outcome: R | BaseException) -> None:
    """Hand a waiting coroutine its outcome, unless it stopped waiting (was cancelled)."""
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
