"""The `live` scenario, fan-out: command answer → SSE delivery latency at a steady rate
with many open connections, beside raw NATS publish → subscribe latency on the same
server; and the API's memory per idle connection. Then as many idle connections again
with user tokens, and the same events' latency to a listener with a key and to one with
a user token, side by side.
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
    key_ms: list[float]  # the same events, to a listener with a key ...
    token_ms: list[float]  # ... and to one with a user token
    bytes_per_token_connection: float


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def open_idle(port: int, token: str, count: int, subjects: str) -> list[asyncio.StreamWriter]:
    """Open ``count`` SSE connections that receive nothing (a filter nobody matches)."""
    request = (
        f"GET /v1/live?subjects={subjects} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
    ).encode()
    return await open_streams(port, [request] * count)


async def open_idle_tokens(port: int, tokens: list[str]) -> list[asyncio.StreamWriter]:
    """An SSE connection per user token, as a browser opens it (``?token=``)."""
    requests = [
        (
            f"GET /v1/live?token={token} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Accept: text/event-stream\r\n\r\n"
        ).encode()
        for token in tokens
    ]
    return await open_streams(port, requests)


async def open_streams(port: int, requests: list[bytes]) -> list[asyncio.StreamWriter]:
    writers = []
    for request in requests:
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
    # User tokens in an API process of their own, so that their connections are the first
    # it holds, as the keys' were above (a second thousand would find the containers of
    # the first already grown, or pay for their growth).
    port = free_port()
    with running(settings, port, ["relay"]) as api:
        await asyncio.sleep(1.0)
        tokens = await mint_idle_tokens(port, token, connections)
        await asyncio.sleep(1.0)
        rss = psutil.Process(api.pid).memory_info().rss
        say(f"live: opening {connections:,} idle connections with user tokens")
        idle = await open_idle_tokens(port, tokens)
        await asyncio.sleep(2.0)
        per_token = (psutil.Process(api.pid).memory_info().rss - rss) / connections
        idle += await open_idle(port, token, connections, nobody)
        say(f"live: {rate:.0f} commands/s for {seconds:.0f}s to a key's and a token's listener")
        key_ms, token_ms = await key_and_token_latency(port, token, rate, seconds)
        for writer in idle:
            writer.close()
    return LiveFigures(live, raw, per_connection, key_ms, token_ms, per_token)


async def mint_idle_tokens(port: int, key: str, count: int) -> list[str]:
    """A token per idle user, each naming a conversation nobody writes to."""
    quiet = "00000000-0000-0000-0000-000000000001"
    headers = {"Authorization": f"Bearer {key}"}
    gate = asyncio.Semaphore(16)
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30
    ) as http:

        async def mint(i: int) -> str:
            async with gate:
                grant = {"user_id": f"idle-{i}", "scopes": ["live:read"], "conversations": [quiet]}
                response = await http.post("/v1/tokens", json=grant)
                response.raise_for_status()
                return str(response.json()["token"])

        return list(await asyncio.gather(*(mint(i) for i in range(count))))


async def key_and_token_latency(
    port: int, key: str, rate: float, seconds: float
) -> tuple[list[float], list[float]]:
    """Latencies in ms from each command's answer to its SSE frame at two listeners of
    the same conversation, one with a key and one with a user token: the same events,
    the same moment, so only the credential differs."""
    base = f"http://127.0.0.1:{port}"
    answered: dict[int, float] = {}
    delivered: dict[str, dict[int, float]] = {"key": {}, "token": {}}
    headers = {"Authorization": f"Bearer {key}"}
    async with (
        httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http,
        httpx.AsyncClient(base_url=base, timeout=30) as browser,
    ):
        cid = (await http.post("/v1/conversations", json={"title": "Tokens"})).json()["id"]
        grant = {"user_id": "listener", "scopes": ["live:read"], "conversations": [cid]}
        user_token = (await http.post("/v1/tokens", json=grant)).json()["token"]

        async def listen(name: str, client: httpx.AsyncClient, params: dict[str, str]) -> None:
            async with client.stream("GET", "/v1/live", params=params, timeout=None) as response:
                async for line in response.aiter_lines():
                    if line.startswith("id: "):
                        delivered[name][int(line[4:])] = time.perf_counter()

        async def post(i: int) -> None:
            response = await http.post(
                f"/v1/conversations/{cid}/messages", json={"role": "user", "content": f"m{i}"}
            )
            answered[response.json()["position"]] = time.perf_counter()

        listeners = [
            asyncio.create_task(listen("key", http, {"subjects": f"conversation.{cid}"})),
            asyncio.create_task(listen("token", browser, {"token": user_token})),
        ]
        await asyncio.sleep(1.0)
        await paced(rate, seconds, post)
        await asyncio.sleep(2.0)
        for listener in listeners:
            listener.cancel()
    both = [p for p in answered if p in delivered["key"] and p in delivered["token"]]
    return (
        [(delivered["key"][p] - answered[p]) * 1000 for p in both],
        [(delivered["token"][p] - answered[p]) * 1000 for p in both],
    )


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "p50": round(statistics.median(samples), 3),
        "p99": round(percentile(samples, 0.99), 3),
    }
