"""Task workers against the real API: a task outliving its lease is kept by heartbeats
and completed; a handler's error fails it."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from chronicle_client import AsyncClient, Client
from chronicle_client.worker import AsyncWorker, Job, TaskFailed, Worker
from tests.integration.conftest import KeyFactory

LEASE_S = 0.4  # shorter than the handlers take: without heartbeats the lease would expire


@pytest.fixture
def client(api_url: str, issue_key: KeyFactory) -> Iterator[Client]:
    with Client(api_url, api_key=issue_key(), read_your_writes=True) as made:
        yield made


def kind() -> str:
    return f"sdk{uuid.uuid4().hex[:8]}"


def test_a_worker_keeps_the_lease_while_its_handler_runs_then_completes(client: Client) -> None:
    task_type = kind()
    submitted = client.submit_task(type=task_type, payload={"n": 2}, timeout_s=LEASE_S)
    jobs: list[Job] = []

    def double(job: Job) -> Any:
        jobs.append(job)
        job.progress(50, "halfway")
        time.sleep(LEASE_S * 3)
        return {"doubled": job.payload["n"] * 2}

    worker = Worker(client, [task_type], double, wait_s=5)
    assert worker.run(max_tasks=1) == 1
    assert jobs[0].heartbeats >= 3 and jobs[0].attempt == 1
    task = client.get_task(submitted.id).value
    assert (task["state"], task["result"], task["attempt"]) == ("succeeded", {"doubled": 4}, 1)


def test_a_handler_that_fails_for_good_fails_its_task_without_a_retry(client: Client) -> None:
    task_type = kind()
    submitted = client.submit_task(type=task_type, max_attempts=3)

    def refuse(job: Job) -> Any:
        raise TaskFailed("no such mailbox", retryable=False)

    assert Worker(client, [task_type], refuse, wait_s=5).run_once()
    task = client.get_task(submitted.id).value
    assert (task["state"], task["last_error"], task["attempt"]) == ("failed", "no such mailbox", 1)


async def test_the_async_worker_completes_a_task(api_url: str, issue_key: KeyFactory) -> None:
    task_type = kind()
    async with AsyncClient(api_url, api_key=issue_key(), read_your_writes=True) as client:
        submitted = await client.submit_task(type=task_type, payload="x", timeout_s=LEASE_S)

        async def echo(job: Job) -> Any:
            await asyncio.sleep(LEASE_S * 2)
            return job.payload

        assert await AsyncWorker(client, [task_type], echo, wait_s=5).run_once()
        task = (await client.get_task(submitted.id)).value
    assert (task["state"], task["result"], task["attempt"]) == ("succeeded", "x", 1)
