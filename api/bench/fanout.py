"""The `live` scenario, fan-out: command answer → SSE delivery latency at a steady rate
with many open connections, beside raw NATS publish → subscribe latency on the same
server; and the API's memory per idle connection.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import nats
import psutil

from api.bench.launch import running
from infrastructure.embedded import free_port
from infrastructure.settings import Settings


@dataclass(frozen=True)
class LiveFigures:
    live_ms: list[float]
    nats_ms: list[float]
    bytes_per_connection: float


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def open_idle(port: int, token: str, count: int, subjects: str) -> list[asyncio.StreamWriter]:
    """Open ``count`` SSE connections that receive nothing (a filter nobody matches)."""
    writers = []
    request = (
        f"GET /v1/live?subjects={subjects} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
    ).encode()
    for _ in range(count):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request)
        await writer.drain()
        status = await reader.readline()
        if b" 200 " not in status:
            raise RuntimeError(f"live connection refused: {status!r}")
        writers.append(writer)
    return writers


SEGMENTS = 4  # live and raw NATS take turns this many times in a run


async def paced(rate: float, seconds: float, action: Callable[[int], Awaitable[None]]) -> None:
    """Call ``action(i)`` ``rate`` times a second for ``seconds``."""
    interval, count = 1.0 / rate, int(rate * seconds)
    began = time.perf_counter()
    for i in range(count):
        await asyncio.sleep(max(0.0, began + i * interval - time.perf_counter()))
        await action(i)


async def measure_side_by_side(
    port: int, token: str, nats_url: str, rate: float, seconds: float
) -> tuple[list[float], list[float]]:
    """Latencies in ms at ``rate``/s: from each command's answer to its SSE frame, and
    from a raw NATS publish to its subscriber. The two take turns in `SEGMENTS` stretches,
    so a slow stretch of the machine falls on both."""
    headers = {"Authorization": f"Bearer {token}"}
    answered: dict[int, float] = {}
    delivered: dict[int, float] = {}
    raw: list[float] = []
    nc = await nats.connect(nats_url)

    async def on_message(msg: Any) -> None:
        raw.append((time.perf_counter() - float(msg.data)) * 1000)

    async def publish(_: int) -> None:
        await nc.publish("bench.latency", repr(time.perf_counter()).encode())
        await nc.flush()

    await nc.subscribe("bench.latency", cb=on_message)
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http:
        cid = (await http.post("/v1/conversations", json={"title": "Latency"})).json()["id"]

        async def listen() -> None:
            params = {"subjects": f"conversation.{cid}"}
            async with http.stream("GET", "/v1/live", params=params, timeout=None) as response:
                async for line in response.aiter_lines():
                    if line.startswith("id: "):
                        delivered[int(line[4:])] = time.perf_counter()

        async def post(i: int) -> None:
            response = await http.post(
                f"/v1/conversations/{cid}/messages", json={"role": "user", "content": f"m{i}"}
            )
            answered[response.json()["position"]] = time.perf_counter()

        listener = asyncio.create_task(listen())
        await asyncio.sleep(1.0)
        for _ in range(SEGMENTS):
            await paced(rate, seconds / SEGMENTS, post)
            await paced(rate, seconds / SEGMENTS, publish)
        await asyncio.sleep(2.0)
        listener.cancel()
    await nc.close()
    live = [(delivered[p] - t) * 1000 for p, t in answered.items() if p in delivered]
    return live, raw


async def bench_live(
    settings: Settings,
    token: str,
    connections: int,
    rate: float,
    seconds: float,
    say: Callable[[str], None],
) -> LiveFigures:
    port = free_port()
    with running(settings, port, ["relay"]) as api:
        await asyncio.sleep(1.0)
        rss = psutil.Process(api.pid).memory_info().rss
        say(f"live: opening {connections:,} idle connections")
        nobody = "conversation.00000000-0000-0000-0000-000000000000"
        idle = await open_idle(port, token, connections, nobody)
        await asyncio.sleep(2.0)
        per_connection = (psutil.Process(api.pid).memory_info().rss - rss) / connections
        say(f"live: {rate:.0f} commands/s for {seconds:.0f}s, taking turns with raw NATS")
        live, raw = await measure_side_by_side(port, token, settings.nats_url or "", rate, seconds)
        for writer in idle:
            writer.close()
    return LiveFigures(live, raw, per_connection)


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "p50": round(statistics.median(samples), 3),
        "p99": round(percentile(samples, 0.99), 3),
    }
