"""Tasks on the in-memory event store and a queue that is a list: claims, their
idempotency, two claimers racing for one task, lifecycles, and tenants.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from application.commands import CommandRunner
from application.context import CommandContext, Idempotency
from application.errors import NotFound
from application.tasks import Tasks
from domain.errors import TaskStateConflict
from domain.task import CANCELLED, DEAD, PENDING, RUNNING, SUCCEEDED, Task
from tests.unit.application.memory import MemoryEventStore


@dataclass
class Reserved:
    task_id: UUID
    queue: ListQueue

    async def claimed(self, attempt: int) -> None:
        self.queue.claims[self.task_id] = attempt


@dataclass
class ListQueue:
    """Candidates as the read model would list them: one tenant's tasks of the asked
    types, in submission order; possibly stale (it lists what the store has moved on)."""

    store: MemoryEventStore
    claims: dict[UUID, int] = field(default_factory=dict)

    @asynccontextmanager
    async def reserve(
        self, tenant_id: str, types: list[str], limit: int
    ) -> AsyncIterator[AsyncIterator[Reserved]]:
        async def candidates() -> AsyncIterator[Reserved]:
            for task_id in self.store.aggregate_ids(Task)[:limit]:
                task = self.store.get(task_id, Task)
                if task.tenant_id == tenant_id and task.type in types:
                    yield Reserved(task_id, self)

        yield candidates()


@dataclass
class World:
    store: MemoryEventStore
    queue: ListQueue
    tasks: Tasks


def world() -> World:
    store = MemoryEventStore()
    queue = ListQueue(store)
    return World(store, queue, Tasks(store, CommandRunner(store), queue))


def context(tenant: str = "acme", key: str | None = None) -> CommandContext:
    idempotency = Idempotency(key, "claim") if key is not None else None
    return CommandContext(tenant, "key:k1", "test", idempotency=idempotency)


async def submit(
    w: World,
    tenant: str = "acme",
    type: str = "email.send",
    max_attempts: int = 3,
    backoff_s: float = 0.0,
) -> UUID:
    result = await w.tasks.submit(
        context(tenant), type, {"to": "ada"}, 0, max_attempts, 30.0, None, backoff_s
    )
    return result.id


async def test_a_claim_starts_the_first_claimable_task_and_remembers_the_attempt() -> None:
    w = world()
    task_id = await submit(w)

    claim = await w.tasks.claim(context(), "worker-1", ["email.send"])

    assert claim is not None
    assert (claim.task.id, claim.attempt, claim.task.state) == (task_id, 1, RUNNING)
    assert claim.lease_until > datetime.now(UTC) + timedelta(seconds=25)
    assert w.queue.claims == {task_id: 1}
    assert w.store.types() == ["TaskSubmitted", "TaskStarted"]


async def test_a_claim_with_nothing_to_claim_is_none_and_writes_nothing() -> None:
    w = world()
    await submit(w, type="report.build")

    assert await w.tasks.claim(context(), "worker-1", ["email.send"]) is None
    assert w.store.types() == ["TaskSubmitted"]


async def test_a_candidate_the_read_model_still_lists_as_pending_is_skipped() -> None:
    w = world()
    cancelled, waiting = await submit(w), await submit(w)
    await w.tasks.cancel(context(), cancelled, "not needed")

    claim = await w.tasks.claim(context(), "worker-1", ["email.send"])

    assert claim is not None and claim.task.id == waiting
    assert w.store.get(cancelled, Task).state == CANCELLED


async def test_two_claimers_of_one_task_never_both_hold_it() -> None:
    w = world()
    task_id = await submit(w)

    claims = await asyncio.gather(
        w.tasks.claim(context(), "worker-1", ["email.send"]),
        w.tasks.claim(context(), "worker-2", ["email.send"]),
    )

    held = [claim for claim in claims if claim is not None]
    assert len(held) == 1 and held[0].task.id == task_id
    assert w.store.types().count("TaskStarted") == 1


async def test_a_claim_sent_again_with_its_idempotency_key_answers_the_same_claim() -> None:
    w = world()
    await submit(w)
    await submit(w)

    first = await w.tasks.claim(context(key="c-1"), "worker-1", ["email.send"])
    again = await w.tasks.claim(context(key="c-1"), "worker-1", ["email.send"])

    assert first is not None and again is not None
    assert (again.task.id, again.attempt, again.lease_until) == (
        first.task.id,
        first.attempt,
        first.lease_until,
    )
    assert again.result.replayed
    assert w.store.types().count("TaskStarted") == 1


async def test_a_failed_attempt_is_claimable_again_until_its_attempts_run_out() -> None:
    w = world()
    task_id = await submit(w, max_attempts=2)

    first = await w.tasks.claim(context(), "worker-1", ["email.send"])
    assert first is not None
    await w.tasks.fail(context(), task_id, "smtp down", retryable=True)
    assert w.store.get(task_id, Task).state == PENDING
    second = await w.tasks.claim(context(), "worker-2", ["email.send"])
    assert second is not None and second.attempt == 2
    await w.tasks.fail(context(), task_id, "smtp down", retryable=True)

    assert w.store.get(task_id, Task).state == DEAD
    assert await w.tasks.claim(context(), "worker-3", ["email.send"]) is None


async def test_a_retry_waits_for_its_backoff() -> None:
    w = world()
    task_id = await submit(w, backoff_s=60.0)
    assert await w.tasks.claim(context(), "worker-1", ["email.send"]) is not None

    await w.tasks.fail(context(), task_id, "smtp down", retryable=True)

    task = w.store.get(task_id, Task)
    assert task.state == PENDING and task.run_at > datetime.now(UTC) + timedelta(seconds=25)
    assert await w.tasks.claim(context(), "worker-1", ["email.send"]) is None


async def test_a_completed_task_refuses_another_completion_and_a_timeout() -> None:
    w = world()
    task_id = await submit(w)
    assert await w.tasks.claim(context(), "worker-1", ["email.send"]) is not None

    await w.tasks.complete(context(), task_id, {"sent": True})

    assert w.store.get(task_id, Task).state == SUCCEEDED
    with pytest.raises(TaskStateConflict):
        await w.tasks.complete(context(), task_id, {"sent": True})
    assert await w.tasks.time_out(context(), task_id) is None


async def test_a_tenant_neither_claims_nor_acts_on_another_tenants_task() -> None:
    w = world()
    task_id = await submit(w, tenant="acme")

    assert await w.tasks.claim(context("globex"), "worker-9", ["email.send"]) is None
    with pytest.raises(NotFound):
        await w.tasks.cancel(context("globex"), task_id, "mine now")
    with pytest.raises(NotFound):
        w.tasks.get("globex", task_id)
    assert w.store.types() == ["TaskSubmitted"]
