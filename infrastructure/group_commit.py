"""Group commit: concurrent callers share one write, each with an outcome of its own.

Knows nothing of SQL; the writer it is given decides what a batch is and how members fail.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

Writer = Callable[[Sequence[T]], Sequence[R | Exception]]

LINGER_SECONDS = 0.001
MAX_BATCH = 500


class _Slot(Generic[T, R]):
    """One caller's item, waiting for its outcome or for its turn to lead."""

    __slots__ = ("item", "lead", "outcome", "settled", "woken")

    def __init__(self, item: T) -> None:
        self.item = item
        self.woken = threading.Lock()  # held until the slot is settled or asked to lead
        self.woken.acquire()
        self.lead = False
        self.settled = False
        self.outcome: R | BaseException | None = None

    def wait(self) -> None:
        self.woken.acquire()

    def wake(self) -> None:
        self.woken.release()

    def settle(self, outcome: R | BaseException) -> None:
        self.outcome, self.settled = outcome, True
        if not self.lead:
            self.wake()

    def result(self) -> R:
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome  # type: ignore[return-value]


class GroupCommit(Generic[T, R]):
    """Batches concurrent ``submit`` calls into calls of ``write``.

    The first caller to arrive leads: when the previous batch was shared (callers are
    arriving together) it lingers up to ``linger`` seconds or until ``max_batch`` items
    have queued, then writes the batch and wakes every member with its own outcome.
    Callers that queued meanwhile are led by the first of them. A batch whose ``write``
    raises is retried one member at a time, so one bad member never fails the others.
    """

    def __init__(
        self, write: Writer[T, R], *, linger: float = LINGER_SECONDS, max_batch: int = MAX_BATCH
    ) -> None:
        self._write = write
        self._linger = linger
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._full = threading.Condition(self._lock)
        self._queue: list[_Slot[T, R]] = []
        self._leading = False
        self._shared = False
        self.batches = 0
        self.items = 0

    def submit(self, item: T) -> R:
        """Write ``item`` together with whatever else arrives now; its outcome or error."""
        slot: _Slot[T, R] = _Slot(item)
        with self._lock:
            self._queue.append(slot)
            if self._leading:
                if len(self._queue) >= self._max_batch:
                    self._full.notify()
            else:
                self._leading = slot.lead = True
        if not slot.lead:
            slot.wait()
        if not slot.settled:
            self._lead()
        return slot.result()

    def _lead(self) -> None:
        with self._lock:
            if self._shared:
                self._full.wait_for(lambda: len(self._queue) >= self._max_batch, self._linger)
            batch = self._queue[: self._max_batch]
            del self._queue[: self._max_batch]
        try:
            outcomes = self._write_all([slot.item for slot in batch])
            for slot, outcome in zip(batch, outcomes, strict=True):
                slot.settle(outcome)
        except BaseException as error:  # every member must wake up, whatever happened
            for slot in batch:
                if not slot.settled:
                    slot.settle(error)
            raise
        finally:
            self._hand_over(len(batch))

    def _hand_over(self, size: int) -> None:
        with self._lock:
            self.batches += 1
            self.items += size
            self._shared = size > 1
            if self._queue:
                successor = self._queue[0]
                successor.lead = True
                successor.wake()
            else:
                self._leading = False

    def _write_all(self, items: Sequence[T]) -> Sequence[R | Exception]:
        try:
            return self._write(items)
        except Exception as error:
            if len(items) == 1:
                return [error]
        return [self._write_one(item) for item in items]

    def _write_one(self, item: T) -> R | Exception:
        try:
            return self._write([item])[0]
        except Exception as error:
            return error
