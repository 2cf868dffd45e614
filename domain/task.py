"""The Task aggregate: durable background work with leases, retries, timeouts and
dead letters. Time and jitter are given to it, so it stays deterministic.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from eventsourcing.domain import event

from domain.erasure import check_subject
from domain.errors import InvalidValue, TaskIsCancelled, TaskStateConflict
from domain.ids import TimeOrderedAggregate
from domain.tenancy import TenantOwned
from domain.values import check_chars, check_json, in_utc

PENDING, RUNNING = "pending", "running"
SUCCEEDED, FAILED, CANCELLED, DEAD = "succeeded", "failed", "cancelled", "dead"
FINAL = frozenset({SUCCEEDED, FAILED, CANCELLED, DEAD})
MAX_BACKOFF = timedelta(minutes=10)
TYPE_PATTERN = r"^[A-Za-z0-9._-]{1,100}$"
NOTE_MAX_CHARS = 2000  # progress notes and cancel reasons
ERROR_MAX_CHARS = 65_536
WORKER_MAX_CHARS = 200
_TYPE = re.compile(TYPE_PATTERN)


def check_type(value: str) -> None:
    if not _TYPE.fullmatch(value):
        raise InvalidValue("type", "must be 1 to 100 of A-Z, a-z, 0-9, '.', '-' or '_'")


class Task(TimeOrderedAggregate, TenantOwned):
    """A unit of background work owned by one tenant."""

    category = "task"

    @event("TaskSubmitted")
    def __init__(
        self,
        tenant_id: str,
        type: str,
        payload: Any,
        priority: int,
        max_attempts: int,
        timeout_s: float,
        run_at: datetime,
        backoff_s: float,
        subject: str | None = None,
    ) -> None:
        self.tenant_id = tenant_id
        self.type = type
        self.payload = payload
        self.subject = subject  # the data subject its payload is about: sealed for it
        self.priority = priority
        self.max_attempts = max_attempts
        self.timeout_s = timeout_s
        self.backoff_s = backoff_s
        self.run_at = run_at
        self.state = PENDING
        self.attempt = 0
        self.worker_id: str | None = None
        self.lease_until: datetime | None = None
        self.cancel_reason = ""

    @classmethod
    def submit(
        cls,
        tenant_id: str,
        type: str,
        payload: Any,
        priority: int,
        max_attempts: int,
        timeout_s: float,
        run_at: datetime,
        backoff_s: float,
        subject: str | None = None,
    ) -> Task:
        """A task; a ``subject`` (``user:<id>``, …) marks its payload personal data of that
        data subject (sealed for it, and erased with it)."""
        check_type(type)
        check_json("payload", payload)
        if subject is not None:
            check_subject(subject)
        run_at = in_utc("run_at", run_at)
        if not 0 <= priority <= 9:
            raise InvalidValue("priority", "must be 0 to 9")
        if not 1 <= max_attempts <= 20:
            raise InvalidValue("max_attempts", "must be 1 to 20")
        if not 0.1 <= timeout_s <= 86_400:
            raise InvalidValue("timeout_s", "must be 0.1 to 86400 seconds")
        if not 0 <= backoff_s <= 3600:
            raise InvalidValue("backoff_s", "must be 0 to 3600 seconds")
        return cls(
            tenant_id, type, payload, priority, max_attempts, timeout_s, run_at, backoff_s, subject
        )

    def claimable(self, now: datetime) -> bool:
        return self.state == PENDING and self.run_at <= now

    def start(self, worker_id: str, now: datetime) -> None:
        check_chars("worker_id", worker_id, WORKER_MAX_CHARS)
        if not self.claimable(now):
            raise TaskStateConflict(f"task {self.id} is {self.state}, not ready to start")
        self._started(self.attempt + 1, worker_id, now + timedelta(seconds=self.timeout_s))

    @event("TaskStarted")
    def _started(self, attempt: int, worker_id: str, lease_until: datetime) -> None:
        self.state = RUNNING
        self.attempt = attempt
        self.worker_id = worker_id
        self.lease_until = lease_until

    def heartbeat(self, now: datetime, percent: float | None, note: str | None) -> None:
        self._check_running()
        if percent is not None and not 0 <= percent <= 100:
            raise InvalidValue("progress", "must be 0 to 100")
        if note is not None:
            check_chars("note", note, NOTE_MAX_CHARS, minimum=0)
        self._progressed(percent, note, now + timedelta(seconds=self.timeout_s))

    @event("TaskProgressed")
    def _progressed(self, percent: float | None, note: str | None, lease_until: datetime) -> None:
        self.lease_until = lease_until

    def succeed(self, result: Any) -> None:
        self._check_running()
        check_json("result", result)
        self._succeeded(result)

    @event("TaskSucceeded")
    def _succeeded(self, result: Any) -> None:
        self.state = SUCCEEDED

    def fail(self, error: str, retryable: bool, now: datetime, jitter: float) -> None:
        """A failed attempt: retried after a backoff, dead after the last, or final."""
        self._check_running()
        check_chars("error", error, ERROR_MAX_CHARS)
        retry_at = self._retry_at(now, jitter) if retryable and self._attempts_left() else None
        self._failed(error, self.attempt, retry_at)
        if retryable and retry_at is None:
            self._dead_lettered(error)

    @event("TaskFailed")
    def _failed(self, error: str, attempt: int, retry_at: datetime | None) -> None:
        self.state = PENDING if retry_at is not None else FAILED
        if retry_at is not None:
            self.run_at = retry_at
        self.worker_id, self.lease_until = None, None

    def time_out(self, now: datetime, jitter: float) -> None:
        """The lease expired without a heartbeat: retry after a backoff, or dead."""
        if self.state != RUNNING or self.lease_until is None or self.lease_until > now:
            raise TaskStateConflict(f"task {self.id} has no expired lease")
        retry_at = self._retry_at(now, jitter) if self._attempts_left() else None
        self._timed_out(self.attempt, retry_at)
        if retry_at is None:
            self._dead_lettered(f"timed out after {self.timeout_s:g}s (attempt {self.attempt})")

    @event("TaskTimedOut")
    def _timed_out(self, attempt: int, retry_at: datetime | None) -> None:
        self.state = PENDING
        if retry_at is not None:
            self.run_at = retry_at
        self.worker_id, self.lease_until = None, None

    @event("TaskDeadLettered")
    def _dead_lettered(self, last_error: str) -> None:
        self.state = DEAD

    def cancel(self, reason: str) -> None:
        if self.state in FINAL:
            raise TaskStateConflict(f"task {self.id} is already {self.state}")
        check_chars("reason", reason, NOTE_MAX_CHARS, minimum=0)
        self._cancelled(reason)

    @event("TaskCancelled")
    def _cancelled(self, reason: str) -> None:
        self.state = CANCELLED
        self.cancel_reason = reason

    def retry(self, now: datetime) -> None:
        """A dead letter given one more attempt, from ``now`` (after its cause is fixed)."""
        if self.state != DEAD:
            raise TaskStateConflict(f"task {self.id} is {self.state}; only a dead task is retried")
        self._requeued(self.attempt + 1, now)

    @event("TaskRequeued")
    def _requeued(self, max_attempts: int, run_at: datetime) -> None:
        self.state = PENDING
        self.max_attempts = max_attempts
        self.run_at = run_at

    def _attempts_left(self) -> bool:
        return self.attempt < self.max_attempts

    def _retry_at(self, now: datetime, jitter: float) -> datetime:
        """Exponential backoff with jitter (``jitter`` in [0.5, 1])."""
        delay = timedelta(seconds=self.backoff_s * 2 ** (self.attempt - 1) * jitter)
        return now + min(delay, MAX_BACKOFF)

    def _check_running(self) -> None:
        if self.state == CANCELLED:
            raise TaskIsCancelled(self.id, self.cancel_reason)
        if self.state != RUNNING:
            raise TaskStateConflict(f"task {self.id} is {self.state}, not running")
