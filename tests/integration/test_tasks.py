"""Tasks over HTTP: claims, leases, retries, timeouts, cancellation, dead letters, the
scheduler and the worker CLI, on the real servers.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
import uuid
from typing import Any

import httpx
import psycopg
import pytest

from api.bootstrap import Container
from application.context import CommandContext
from infrastructure.settings import Settings
from tests.integration.cli import CHRONICLE, cli_env
from tests.integration.conftest import KeyFactory
from tests.integration.test_http_conversations import assert_problem, events_of


async def submit(client: httpx.AsyncClient, kind: str, **fields: Any) -> dict[str, Any]:
    response = await client.post("/v1/tasks", json={"type": kind} | fields)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def claim(
    client: httpx.AsyncClient, kind: str, worker: str = "w1", wait_s: float = 5
) -> dict[str, Any] | None:
    response = await client.post(
        "/v1/tasks/claim", json={"worker_id": worker, "types": [kind], "wait_s": wait_s}
    )
    if response.status_code == 204:
        return None
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def task_view(client: httpx.AsyncClient, task_id: str, position: int = 0) -> dict[str, Any]:
    response = await client.get(f"/v1/tasks/{task_id}", params={"min_position": position})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def kind() -> str:
    return f"k{uuid.uuid4().hex[:8]}"


async def test_submit_claim_heartbeat_complete(client: httpx.AsyncClient) -> None:
    k = kind()
    submitted = await submit(client, k, payload={"n": 1}, timeout_s=30)
    claimed = await claim(client, k)
    assert claimed is not None
    assert claimed["task"]["id"] == submitted["id"] and claimed["task"]["payload"] == {"n": 1}
    assert claimed["attempt"] == 1 and claimed["lease_until"]
    beat = await client.post(
        f"/v1/tasks/{submitted['id']}/heartbeat", json={"progress": 50, "note": "half"}
    )
    assert beat.status_code == 200
    done = await client.post(f"/v1/tasks/{submitted['id']}/complete", json={"result": {"ok": True}})
    view = await task_view(client, submitted["id"], done.json()["position"])
    assert (view["state"], view["result"], view["progress"]) == ("succeeded", {"ok": True}, 50)
    (attempt,) = view["attempts"]
    assert (attempt["worker_id"], attempt["outcome"]) == ("w1", "succeeded") and attempt["ended_at"]


async def test_claim_answers_204_after_waiting(client: httpx.AsyncClient) -> None:
    began = time.monotonic()
    assert await claim(client, kind(), wait_s=0.5) is None
    assert time.monotonic() - began >= 0.5


async def test_higher_priority_then_older_first(client: httpx.AsyncClient) -> None:
    k = kind()
    low = await submit(client, k, priority=1)
    high_old = await submit(client, k, priority=7)
    high_new = await submit(client, k, priority=7)
    await task_view(client, high_new["id"], high_new["position"])
    order = [(await claim(client, k))["task"]["id"] for _ in range(3)]  # type: ignore[index]
    assert order == [high_old["id"], high_new["id"], low["id"]]


async def test_a_task_waits_for_run_at(client: httpx.AsyncClient) -> None:
    k = kind()
    later = time.time() + 1.5
    from datetime import UTC, datetime

    await submit(client, k, run_at=datetime.fromtimestamp(later, UTC).isoformat())
    assert await claim(client, k, wait_s=0.3) is None
    assert await claim(client, k, wait_s=5) is not None
    assert time.time() >= later


async def test_eight_workers_over_500_tasks_each_succeeds_exactly_once(
    client: httpx.AsyncClient,
) -> None:
    k = kind()
    ids = set()
    for batch in range(10):
        created = await asyncio.gather(
            *(submit(client, k, payload={"i": batch * 50 + i}) for i in range(50))
        )
        ids |= {c["id"] for c in created}
    done: list[str] = []
    positions: list[int] = []

    async def work(worker: str) -> None:
        while (claimed := await claim(client, k, worker, wait_s=1.0)) is not None:
            task_id = claimed["task"]["id"]
            response = await client.post(f"/v1/tasks/{task_id}/complete", json={"result": worker})
            assert response.status_code == 200, response.text
            done.append(task_id)
            positions.append(response.json()["position"])

    await asyncio.gather(*(work(f"w{i}") for i in range(8)))
    assert sorted(done) == sorted(ids)
    dashboard = (
        await client.get("/v1/dashboard/tasks", params={"min_position": max(positions)})
    ).json()
    assert (
        dashboard["counts"]["succeeded"] >= 500
        and dashboard["run_time_last_hour_ms"]["count"] >= 500
    )


async def test_retries_back_off_then_dead_letter(client: httpx.AsyncClient) -> None:
    k = kind()
    task = await submit(client, k, max_attempts=2, backoff_s=0.5)
    first = await claim(client, k)
    assert first is not None
    failed = await client.post(f"/v1/tasks/{task['id']}/fail", json={"error": "flaky"})
    assert failed.status_code == 200
    view = await task_view(client, task["id"], failed.json()["position"])
    assert view["state"] == "pending" and view["last_error"] == "flaky"
    assert await claim(client, k, wait_s=0) is None  # still backing off
    second = await claim(client, k, wait_s=5)
    assert second is not None and second["attempt"] == 2
    last = await client.post(f"/v1/tasks/{task['id']}/fail", json={"error": "flaky again"})
    view = await task_view(client, task["id"], last.json()["position"])
    assert view["state"] == "dead"
    assert [a["outcome"] for a in view["attempts"]] == ["failed", "failed"]
    types = [e["type"] for e in await events_of(client, task["id"])]
    assert types[-2:] == ["TaskFailed", "TaskDeadLettered"]


async def test_a_short_lease_times_out_and_the_task_is_retried(client: httpx.AsyncClient) -> None:
    k = kind()
    task = await submit(client, k, timeout_s=0.3, backoff_s=0.1)
    assert await claim(client, k) is not None
    again = await claim(client, k, "w2", wait_s=10)
    assert again is not None and again["attempt"] == 2 and again["task"]["id"] == task["id"]
    types = [e["type"] for e in await events_of(client, task["id"])]
    assert types == ["TaskSubmitted", "TaskStarted", "TaskTimedOut", "TaskStarted"]


async def test_a_running_task_learns_of_its_cancellation_at_the_next_heartbeat(
    client: httpx.AsyncClient,
) -> None:
    k = kind()
    task = await submit(client, k)
    assert await claim(client, k) is not None
    assert (
        await client.post(f"/v1/tasks/{task['id']}/cancel", json={"reason": "user gave up"})
    ).status_code == 200
    beat = await client.post(f"/v1/tasks/{task['id']}/heartbeat", json={})
    body = assert_problem(beat, 409)
    assert body["type"].endswith("task-cancelled") and "user gave up" in body["detail"]
    assert_problem(await client.post(f"/v1/tasks/{task['id']}/complete", json={}), 409)


async def test_the_list_filters_by_state_and_type(client: httpx.AsyncClient) -> None:
    k = kind()
    one = await submit(client, k)
    two = await submit(client, k)
    cancelled = (await client.post(f"/v1/tasks/{one['id']}/cancel", json={})).json()
    pending = (
        await client.get(
            "/v1/tasks",
            params={"type": k, "state": "pending", "min_position": cancelled["position"]},
        )
    ).json()
    assert [t["id"] for t in pending["items"]] == [two["id"]]
    assert_problem(await client.get("/v1/tasks", params={"state": "lost"}), 400, "state")


async def test_tasks_are_tenant_scoped(
    client: httpx.AsyncClient, api_url: str, issue_key: KeyFactory
) -> None:
    k = kind()
    task = await submit(client, k)
    async with httpx.AsyncClient(
        base_url=api_url, headers={"Authorization": f"Bearer {issue_key()}"}
    ) as other:
        assert await claim(other, k, wait_s=0) is None
        assert_problem(await other.get(f"/v1/tasks/{task['id']}"), 404)
        assert_problem(await other.post(f"/v1/tasks/{task['id']}/cancel", json={}), 404)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("", {"payload": 1}, "type"),
        ("", {"type": "a b"}, "type"),
        ("", {"type": "t", "priority": 10}, "priority"),
        ("", {"type": "t", "max_attempts": 21}, "max_attempts"),
        ("", {"type": "t", "timeout_s": 0}, "timeout_s"),
        ("", {"type": "t", "extra": 1}, "extra"),
        ("/claim", {"types": ["t"]}, "worker_id"),
        ("/claim", {"worker_id": "w", "types": []}, "types"),
        ("/claim", {"worker_id": "w", "types": ["t"], "wait_s": 61}, "wait_s"),
        ("/{id}/heartbeat", {"progress": 101}, "progress"),
        ("/{id}/fail", {"retryable": True}, "error"),
        ("/{id}/cancel", {"reason": 5}, "reason"),
        ("/{id}/complete", {"result": 1, "extra": 2}, "extra"),
    ],
)
async def test_bad_input_is_400_and_writes_nothing(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], field: str
) -> None:
    task = await submit(client, kind())
    response = await client.post("/v1/tasks" + path.replace("{id}", task["id"]), json=body)
    assert_problem(response, 400, field)
    assert len(await events_of(client, task["id"])) == 1


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    return cli_env(settings) | extra


async def test_a_scheduler_killed_mid_backoff_still_retries_once(scratch: Settings) -> None:
    container = Container.build(scratch)
    ctx = CommandContext("acme", "test", "t")
    scheduler = subprocess.Popen(
        [CHRONICLE, "scheduler"],
        env=_env(scratch),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    engine = container.projection_engine(["tasks"])
    engine.start()
    try:
        task = await container.tasks.submit(ctx, "slow", None, 0, 3, 0.3, None, 1.5)
        deadline = time.monotonic() + 10
        claimed = None
        while claimed is None and time.monotonic() < deadline:
            claimed = await container.tasks.claim(ctx, "w1", ["slow"])
            time.sleep(0.05)
        assert claimed is not None
        while (
            time.monotonic() < deadline and container.tasks.get("acme", task.id).state == "running"
        ):
            time.sleep(0.05)
        assert container.tasks.get("acme", task.id).state == "pending"  # timed out, backing off
        scheduler.send_signal(signal.SIGKILL)
        scheduler.wait(10)
        scheduler = subprocess.Popen(
            [CHRONICLE, "scheduler"],
            env=_env(scratch),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        second = None
        while second is None and time.monotonic() < deadline + 10:
            second = await container.tasks.claim(ctx, "w2", ["slow"])
            time.sleep(0.05)
        assert second is not None and second.attempt == 2
        await container.tasks.complete(ctx, task.id, "done")
        time.sleep(0.5)
        types = [e.type for e in container.store.read_stream(task.id, 1, 100)]
        assert types == [
            "TaskSubmitted",
            "TaskStarted",
            "TaskTimedOut",
            "TaskStarted",
            "TaskSucceeded",
        ]
    finally:
        scheduler.send_signal(signal.SIGTERM)
        scheduler.wait(10)
        engine.stop()
        container.close()


async def test_the_worker_cli_runs_a_command_per_task(
    client: httpx.AsyncClient, api_url: str
) -> None:
    k = kind()
    tasks = [await submit(client, k, payload={"n": i}) for i in range(2)]
    failing = kind()
    broken = await submit(client, failing, max_attempts=1)
    token = client.headers["authorization"].split(" ", 1)[1]
    env = cli_env(Settings()) | {"CHRONICLE_API_URL": api_url, "CHRONICLE_API_KEY": token}
    worker = await asyncio.create_subprocess_exec(
        CHRONICLE, "worker", "--type", k, "--max-tasks", "2", "--", "cat", env=env
    )
    assert await asyncio.wait_for(worker.wait(), 60) == 0
    for task in tasks:
        view = await task_view(client, task["id"], task["position"] + 1)
        for _ in range(50):
            if view["state"] == "succeeded":
                break
            await asyncio.sleep(0.1)
            view = await task_view(client, task["id"])
        assert view["state"] == "succeeded" and view["result"] == view["payload"]
    sad = await asyncio.create_subprocess_exec(
        CHRONICLE,
        "worker",
        "--type",
        failing,
        "--max-tasks",
        "1",
        "--",
        "sh",
        "-c",
        "echo nope >&2; exit 3",
        env=env,
    )
    assert await asyncio.wait_for(sad.wait(), 60) == 0
    for _ in range(50):
        view = await task_view(client, broken["id"])
        if view["state"] == "dead":
            break
        await asyncio.sleep(0.1)
    assert view["state"] == "dead" and view["last_error"] == "nope"


async def test_a_claim_is_remembered_outside_the_read_model_until_the_projector_shows_it(
    scratch: Settings,
) -> None:
    """Claimers skip a task whose attempt just started although the read model, written
    only by its projector, still shows it pending; once the projector has applied the
    start the claim is forgotten, and a retry of the task can be claimed again."""
    container = Container.build(scratch)
    ctx = CommandContext("acme", "test", "t")
    projector = container.projector("tasks")
    try:
        task = await container.tasks.submit(ctx, "hinted", None, 0, 3, 30.0, None, 0.0)
        projector.catch_up()
        claimed = await container.tasks.claim(ctx, "w1", ["hinted"])
        assert claimed is not None and claimed.attempt == 1

        state = "SELECT state, attempt FROM rm.tasks WHERE id = %s"
        with psycopg.connect(container.dsn) as conn:
            assert conn.execute(state, (task.id,)).fetchone() == ("pending", 0)
        assert await container.tasks.claim(ctx, "w2", ["hinted"]) is None

        projector.catch_up()
        assert container.queue.forget_claims() == 1
        await container.tasks.fail(ctx, task.id, "flaky", retryable=True)
        projector.catch_up()
        again = await container.tasks.claim(ctx, "w2", ["hinted"])
        assert again is not None and again.attempt == 2
    finally:
        container.close()


async def test_a_dead_letter_is_retried_with_one_more_attempt(client: httpx.AsyncClient) -> None:
    k = kind()
    task = await submit(client, k, max_attempts=1)
    assert_problem(await client.post(f"/v1/tasks/{task['id']}/retry"), 409)  # not dead yet
    assert await claim(client, k) is not None
    failed = await client.post(f"/v1/tasks/{task['id']}/fail", json={"error": "down"})
    assert (await task_view(client, task["id"], failed.json()["position"]))["state"] == "dead"
    retried = await client.post(f"/v1/tasks/{task['id']}/retry")
    assert retried.status_code == 200, retried.text
    view = await task_view(client, task["id"], retried.json()["position"])
    assert (view["state"], view["max_attempts"]) == ("pending", 2)
    again = await claim(client, k)
    assert again is not None and again["attempt"] == 2
    assert_problem(await client.post(f"/v1/tasks/{uuid.uuid4()}/retry"), 404)
