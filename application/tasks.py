"""Use cases of tasks: submit, claim, heartbeat, complete, fail, cancel, and time out.

A claim is a command on the task: two workers never hold the same task.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID

from application.commands import CommandRunner
from application.context import CommandContext
from application.errors import ConcurrencyConflict
from application.ports import Change, CommandResult, EventStore
from application.tenancy import load_owned
from domain.errors import TaskStateConflict
from domain.task import Task

CLAIM_CANDIDATES = 20


def now() -> datetime:
    return datetime.now(UTC)


def decided(change: Change) -> Callable[[], Change]:
    """A decision already made (the claim decides while its candidate is locked)."""
    return lambda: change


def jitter() -> float:
    return random.uniform(0.5, 1.0)  # noqa: S311 - spreading retries, not secrecy


@dataclass(frozen=True)
class Claim:
    task: Task
    attempt: int
    lease_until: datetime
    result: CommandResult
    traceparent: str | None = None  # the trace of the command that submitted the task


class Reservation(Protocol):
    task_id: UUID

    async def claimed(self, attempt: int) -> None:
        """Remember that this attempt of the candidate started, so that others skip it
        until the read model shows it."""


class TaskQueue(Protocol):
    """Claimable tasks, best first, each locked while one claimer looks at it (and until
    its claim has committed)."""

    def reserve(
        self, tenant_id: str, types: list[str], limit: int
    ) -> AbstractAsyncContextManager[AsyncIterator[Reservation]]: ...


class Tasks:
    """Command handlers of tasks."""

    def __init__(self, store: EventStore, runner: CommandRunner, queue: TaskQueue) -> None:
        self._store = store
        self._runner = runner
        self._queue = queue

    async def submit(
        self,
        context: CommandContext,
        type: str,
        payload: Any,
        priority: int,
        max_attempts: int,
        timeout_s: float,
        run_at: datetime | None,
        backoff_s: float,
        subject: str | None = None,
    ) -> CommandResult:
        def decide() -> Change:
            task = Task.submit(
                context.tenant_id,
                type,
                payload,
                priority,
                max_attempts,
                timeout_s,
                run_at or now(),
                backoff_s,
                subject,
            )
            return Change((task,), task)

        return await self._runner.run(context, decide, decide_blocks=False)

    async def claim(
        self, context: CommandContext, worker_id: str, types: list[str]
    ) -> Claim | None:
        """Start the best claimable task of these types for this worker, if any."""
        if (replayed := await self._runner.replay(context)) is not None:
            return await self._replayed_claim(replayed)
        async with self._queue.reserve(context.tenant_id, types, CLAIM_CANDIDATES) as candidates:
            async for reservation in candidates:
                task = await asyncio.to_thread(self._store.get, reservation.task_id, Task)
                if not task.claimable(now()):
                    continue
                task.start(worker_id, now())
                assert task.lease_until is not None
                change = Change(
                    (task,),
                    task,
                    {"attempt": str(task.attempt), "lease_until": task.lease_until.isoformat()},
                )
                try:
                    result = await self._runner.run(context, decided(change), decide_blocks=False)
                except ConcurrencyConflict:
                    continue
                if result.replayed:
                    return await self._replayed_claim(result)
                await reservation.claimed(task.attempt)
                return await self._claim_of(task, result)
        return None

    async def _replayed_claim(self, result: CommandResult) -> Claim:
        task = await asyncio.to_thread(self._store.get, result.id, Task)
        return await self._claim_of(task, result)

    async def _claim_of(self, task: Task, result: CommandResult) -> Claim:
        lease_until = datetime.fromisoformat(result.fields["lease_until"])
        submitted = await asyncio.to_thread(self._store.read_stream, task.id, 1, 1)
        traceparent = submitted[0].metadata.get("traceparent") if submitted else None
        return Claim(task, int(result.fields["attempt"]), lease_until, result, traceparent)

    async def heartbeat(
        self, context: CommandContext, task_id: UUID, percent: float | None, note: str | None
    ) -> CommandResult:
        return await self._act(context, task_id, lambda task: task.heartbeat(now(), percent, note))

    async def complete(self, context: CommandContext, task_id: UUID, result: Any) -> CommandResult:
        return await self._act(context, task_id, lambda task: task.succeed(result))

    async def fail(
        self, context: CommandContext, task_id: UUID, error: str, retryable: bool
    ) -> CommandResult:
        return await self._act(
            context, task_id, lambda task: task.fail(error, retryable, now(), jitter())
        )

    async def cancel(self, context: CommandContext, task_id: UUID, reason: str) -> CommandResult:
        return await self._act(context, task_id, lambda task: task.cancel(reason))

    async def retry(self, context: CommandContext, task_id: UUID) -> CommandResult:
        """A dead letter, pending again with one more attempt (`TaskStateConflict` if the
        task is not dead)."""
        return await self._act(context, task_id, lambda task: task.retry(now()))

    async def time_out(self, context: CommandContext, task_id: UUID) -> CommandResult | None:
        """Time out an expired lease; ``None`` when the task moved on meanwhile."""
        try:
            return await self._act(context, task_id, lambda task: task.time_out(now(), jitter()))
        except (TaskStateConflict, ConcurrencyConflict):
            return None

    def get(self, tenant_id: str, task_id: UUID) -> Task:
        return load_owned(self._store, task_id, Task, tenant_id)

    async def _act(self, context: CommandContext, task_id: UUID, act: Any) -> CommandResult:
        def decide() -> Change:
            task = self.get(context.tenant_id, task_id)
            act(task)
            return Change((task,), task)

        return await self._runner.run(context, decide)
