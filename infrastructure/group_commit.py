"""Group commit for threads: concurrent callers share one write, each with an outcome of
its own (coroutines have `LoopGroupCommit`).

Knows nothing of SQL; the writer it is given decides what a batch is and how members fail.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

Writer = Callable[[Sequence[T]], Sequence[R | Exception]]

LINGER_SECONDS = 0.001
MAX_BATCH = 500


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


class _Waiter(Generic[R]):
    """A thread waiting for its item's outcome."""

    __slots__ = ("done", "outcome")

    def __init__(self) -> None:
        self.done = threading.Lock()  # held until the outcome is in
        self.done.acquire()
        self.outcome: R | BaseException | None = None

    def settle(self, outcome: R | BaseException) -> None:
        self.outcome = outcome
        self.done.release()

    def result(self) -> R:
        self.done.acquire()
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome  # type: ignore[return-value]


Pending = tuple[T, _Waiter[R]]


class GroupCommit(Generic[T, R]):
    """Batches concurrent ``submit`` calls of threads into calls of ``write``.

    One writer thread takes whatever has queued: when the previous batch was shared
    (callers are arriving together) it lingers up to ``linger`` seconds or until
    ``max_batch`` items have queued, then writes the batch and hands every member its own
    outcome. Items that queue during a write go in the next batch. A batch whose
    ``write`` raises is retried one member at a time, so one bad member never fails the
    others, unless the error is one of ``fails_together`` (nothing could be written: with
    the database unreachable, each retry would wait out its own connection timeout).
    """

    def __init__(
        self,
        write: Writer[T, R],
        *,
        linger: float = LINGER_SECONDS,
        max_batch: int = MAX_BATCH,
        counts: BatchCounts | None = None,
        fails_together: tuple[type[Exception], ...] = (),
    ) -> None:
        self._write = write
        self._fails_together = fails_together
        self._linger = linger
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._queue: list[Pending[T, R]] = []
        self._thread: threading.Thread | None = None
        self._closed = False
        self.counts = counts or BatchCounts()

    def submit(self, item: T) -> R:
        """Write ``item`` together with whatever else arrives now; its outcome or error."""
        waiter: _Waiter[R] = _Waiter()
        self._enqueue((item, waiter))
        return waiter.result()

    def close(self, timeout: float = 30.0) -> None:
        """Write what has queued, then stop the writer thread (waiting up to ``timeout``)."""
        with self._lock:
            self._closed = True
            self._arrived.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _enqueue(self, pending: Pending[T, R]) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("the group commit is closed")
            self._queue.append(pending)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="group-commit", daemon=True)
                self._thread.start()
            elif len(self._queue) == 1 or len(self._queue) >= self._max_batch:
                self._arrived.notify()

    def _run(self) -> None:
        shared = False
        while True:
            with self._lock:
                self._arrived.wait_for(lambda: self._queue or self._closed)
                if not self._queue:
                    return
                if shared and not self._closed:
                    self._arrived.wait_for(
                        lambda: len(self._queue) >= self._max_batch or self._closed, self._linger
                    )
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
            outcomes = self._write_all([item for item, _ in batch])
            for (_, waiter), outcome in zip(batch, outcomes, strict=True):
                waiter.settle(outcome)
            self.counts.record(len(batch))
            shared = len(batch) > 1

    def _write_all(self, items: Sequence[T]) -> Sequence[R | BaseException]:
        try:
            return self._write(items)
        except Exception as error:
            if len(items) == 1 or isinstance(error, self._fails_together):
                return [error] * len(items)
        except BaseException as error:  # the writer must answer every member, whatever happened
            return [error] * len(items)
        return [self._write_one(item) for item in items]

    def _write_one(self, item: T) -> R | Exception:
        try:
            return self._write([item])[0]
        except Exception as error:
            return error
