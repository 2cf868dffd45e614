"""Tasks scenario: claim → complete round trips/s with 8 workers over HTTP, beside a raw
PostgreSQL SKIP LOCKED queue doing the same two steps; and queue latency (submit →
claimed) at a steady submit rate.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import psycopg

from api.bench.launch import running
from infrastructure.embedded import free_port
from infrastructure.settings import Settings

WORKERS = 8


@contextmanager
def chronicle_processes(settings: Settings) -> Iterator[str]:
    """`chronicle serve` and a tasks projector in their own processes; yields the API URL."""
    port = free_port()
    with running(settings, port, ["project", "--name", "tasks"]):
        yield f"http://127.0.0.1:{port}"


async def chronicle_round_trips(url: str, token: str, count: int) -> float:
    """Round trips/s of claim + complete by 8 workers over ``count`` queued tasks."""
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=64, keepalive_expiry=2)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60, limits=limits) as http:
        for start in range(0, count, 100):
            await asyncio.gather(
                *(
                    http.post("/v1/tasks", json={"type": "bench", "payload": {"i": i}})
                    for i in range(start, min(count, start + 100))
                )
            )
        await asyncio.sleep(1.0)
        done = 0

        async def work(worker: str) -> None:
            nonlocal done
            while True:
                claim = await http.post(
                    "/v1/tasks/claim", json={"worker_id": worker, "types": ["bench"], "wait_s": 1}
                )
                if claim.status_code == 204:
                    return
                if claim.status_code != 200:
                    raise RuntimeError(f"claim answered {claim.status_code}: {claim.text}")
                task_id = claim.json()["task"]["id"]
                await http.post(f"/v1/tasks/{task_id}/complete", json={"result": None})
                done += 1

        began = time.perf_counter()
        await asyncio.gather(*(work(f"w{i}") for i in range(WORKERS)))
        return done / (time.perf_counter() - began - 1.0)  # the last empty long-poll


async def chronicle_queue_latency(url: str, token: str, rate: float, seconds: float) -> list[float]:
    """Submit at ``rate``/s while 8 workers long-poll; ms from submit answer to claim."""
    headers = {"Authorization": f"Bearer {token}"}
    submitted: dict[str, float] = {}
    claimed: dict[str, float] = {}
    stop = asyncio.Event()
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as http:

        async def work(worker: str) -> None:
            while not stop.is_set():
                claim = await http.post(
                    "/v1/tasks/claim", json={"worker_id": worker, "types": ["latency"], "wait_s": 1}
                )
                if claim.status_code == 200:
                    task_id = claim.json()["task"]["id"]
                    claimed[task_id] = time.perf_counter()
                    await http.post(f"/v1/tasks/{task_id}/complete", json={"result": None})

        workers = [asyncio.create_task(work(f"w{i}")) for i in range(WORKERS)]
        interval, count = 1.0 / rate, int(rate * seconds)
        began = time.perf_counter()
        for i in range(count):
            await asyncio.sleep(max(0.0, began + i * interval - time.perf_counter()))
            response = await http.post("/v1/tasks", json={"type": "latency"})
            submitted[response.json()["id"]] = time.perf_counter()
        await asyncio.sleep(3.0)
        stop.set()
        await asyncio.gather(*workers)
    return [(claimed[t] - s) * 1000 for t, s in submitted.items() if t in claimed]


def raw_round_trips(dsn: str, count: int) -> float:
    """The same claim + complete, as raw SQL on a SKIP LOCKED table, by 8 threads."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_queue")
        conn.execute(
            "CREATE TABLE bench_queue (id bigserial PRIMARY KEY, payload jsonb,"
            " state text NOT NULL DEFAULT 'pending', worker text)"
        )
        conn.execute(
            "INSERT INTO bench_queue (payload) SELECT jsonb_build_object('i', g)"
            " FROM generate_series(1, %s) g",
            (count,),
        )

    def work(worker: str) -> int:
        done = 0
        with psycopg.connect(dsn, autocommit=True) as conn:
            while True:
                row = conn.execute(
                    "UPDATE bench_queue SET state = 'running', worker = %s WHERE id ="
                    " (SELECT id FROM bench_queue WHERE state = 'pending' ORDER BY id"
                    " LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id",
                    (worker,),
                ).fetchone()
                if row is None:
                    return done
                conn.execute("UPDATE bench_queue SET state = 'done' WHERE id = %s", (row[0],))
                done += 1

    began = time.perf_counter()
    with ThreadPoolExecutor(WORKERS) as pool:
        total = sum(pool.map(work, [f"w{i}" for i in range(WORKERS)]))
    return total / (time.perf_counter() - began)
