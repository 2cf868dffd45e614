"""Task workers: claim a task, keep its lease alive with heartbeats while the handler runs,
then complete it with the handler's result or fail it with its error.

    worker = Worker(client, ["email.send"], send_email)
    worker.run()  # until stopped

A handler takes a `Job` and returns the task's result (any JSON value). Raising
`TaskFailed(..., retryable=False)` fails the task for good (state ``failed``); any other
exception fails this attempt (the server retries it until ``max_attempts``, then
dead-letters it). A task
cancelled while it runs shows as ``job.cancelled`` (its next heartbeat is refused); it is
then neither completed nor failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from chronicle_client.client import AsyncClient, Client
from chronicle_client.errors import ChronicleError, Conflict
from chronicle_client.models import Claimed, ClaimedTask

MIN_HEARTBEAT_S = 0.05
ERROR_MAX_CHARS = 65536


class TaskFailed(Exception):
    """Raised by a handler to fail its task with this message; ``retryable=False`` fails
    it for good instead of leaving it to the server's retries."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class Job:
    """A claimed task while its handler runs: ``task`` (id, type, payload…), ``attempt``,
    and ``cancelled``, set once the server refuses a heartbeat because the task was
    cancelled. ``progress(percent, note)`` is sent with the next heartbeat."""

    def __init__(self, claimed: Claimed) -> None:
        self.claimed = claimed
        self.task: ClaimedTask = claimed.task
        self.attempt = claimed.attempt
        self.traceparent = claimed.traceparent
        self.cancelled = threading.Event()
        self.heartbeats = 0
        self._progress: tuple[float | None, str | None] = (None, None)

    @property
    def id(self) -> str:
        return str(self.task.id)

    @property
    def payload(self) -> Any:
        return self.task.payload

    def progress(self, percent: float | None = None, note: str | None = None) -> None:
        self._progress = (percent, note)

    def heartbeat_every_s(self, configured: float | None) -> float:
        """A third of the lease (the task's ``timeout_s``) unless configured."""
        return max(MIN_HEARTBEAT_S, configured or self.task.timeout_s / 3)


def _error_text(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text.replace("\x00", "")[:ERROR_MAX_CHARS]


def _default_worker_id() -> str:
    return f"{socket.gethostname()[:100]}-{uuid.uuid4().hex[:8]}"


class Worker:
    """Runs ``handler`` on tasks of ``types`` claimed with ``client``, one at a time."""

    def __init__(
        self,
        client: Client,
        types: Sequence[str],
        handler: Callable[[Job], Any],
        *,
        worker_id: str | None = None,
        wait_s: float = 10.0,
        heartbeat_every_s: float | None = None,
    ) -> None:
        self.client, self.types, self.handler = client, list(types), handler
        self.worker_id = worker_id or _default_worker_id()
        self.wait_s, self.heartbeat_every_s = wait_s, heartbeat_every_s
        self.stopping = threading.Event()

    def run(self, *, max_tasks: int | None = None) -> int:
        """Take tasks until `stop` (or ``max_tasks`` are done); how many were taken."""
        done = 0
        while not self.stopping.is_set() and (max_tasks is None or done < max_tasks):
            done += self.run_once()
        return done

    def stop(self) -> None:
        self.stopping.set()

    def run_once(self) -> bool:
        """Claim one task (waiting up to ``wait_s``) and see it through; whether one came."""
        claimed = self.client.claim_task(
            worker_id=self.worker_id, types=self.types, wait_s=self.wait_s
        )
        if claimed is None:
            return False
        job = Job(claimed)
        done = threading.Event()
        beating = threading.Thread(target=self._beat, args=(job, done), daemon=True)
        beating.start()
        try:
            result = self.handler(job)
        except Exception as error:
            done.set()
            beating.join()
            if not job.cancelled.is_set():
                retryable = error.retryable if isinstance(error, TaskFailed) else True
                self.client.fail_task(job.id, error=_error_text(error), retryable=retryable)
            return True
        done.set()
        beating.join()
        if not job.cancelled.is_set():
            self.client.complete_task(job.id, result=result)
        return True

    def _beat(self, job: Job, done: threading.Event) -> None:
        every = job.heartbeat_every_s(self.heartbeat_every_s)
        while not done.wait(every):
            percent, note = job._progress
            try:
                self.client.heartbeat_task(job.id, progress=percent, note=note)
            except Conflict:
                job.cancelled.set()  # cancelled (or no longer this worker's): stop beating
                return
            except ChronicleError:
                continue  # a refused beat; the next may pass before the lease ends
            job.heartbeats += 1


class AsyncWorker:
    """`Worker` for asyncio: ``handler`` is a coroutine function taking a `Job`."""

    def __init__(
        self,
        client: AsyncClient,
        types: Sequence[str],
        handler: Callable[[Job], Awaitable[Any]],
        *,
        worker_id: str | None = None,
        wait_s: float = 10.0,
        heartbeat_every_s: float | None = None,
    ) -> None:
        self.client, self.types, self.handler = client, list(types), handler
        self.worker_id = worker_id or _default_worker_id()
        self.wait_s, self.heartbeat_every_s = wait_s, heartbeat_every_s
        self.stopping = asyncio.Event()

    async def run(self, *, max_tasks: int | None = None) -> int:
        done = 0
        while not self.stopping.is_set() and (max_tasks is None or done < max_tasks):
            done += await self.run_once()
        return done

    def stop(self) -> None:
        self.stopping.set()

    async def run_once(self) -> bool:
        claimed = await self.client.claim_task(
            worker_id=self.worker_id, types=self.types, wait_s=self.wait_s
        )
        if claimed is None:
            return False
        job = Job(claimed)
        beating = asyncio.ensure_future(self._beat(job))
        try:
            result = await self.handler(job)
        except Exception as error:
            await _cancelled(beating)
            if not job.cancelled.is_set():
                retryable = error.retryable if isinstance(error, TaskFailed) else True
                await self.client.fail_task(job.id, error=_error_text(error), retryable=retryable)
            return True
        await _cancelled(beating)
        if not job.cancelled.is_set():
            await self.client.complete_task(job.id, result=result)
        return True

    async def _beat(self, job: Job) -> None:
        every = job.heartbeat_every_s(self.heartbeat_every_s)
        while True:
            await asyncio.sleep(every)
            percent, note = job._progress
            try:
                await self.client.heartbeat_task(job.id, progress=percent, note=note)
            except Conflict:
                job.cancelled.set()
                return
            except ChronicleError:
                continue
            job.heartbeats += 1


async def _cancelled(task: asyncio.Future[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
