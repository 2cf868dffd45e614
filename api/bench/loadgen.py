"""A load generator in its own process: keep-alive connections posting commands as fast
as the API answers, over a minimal HTTP/1.1 client so the client costs little CPU.

Run as ``python -m api.bench.loadgen URL CONNECTIONS SECONDS`` with the API key in
``CHRONICLE_BENCH_TOKEN``; prints one JSON object: commands answered, commands/s,
latency percentiles (ms) and errors.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
from urllib.parse import urlsplit

WARM_UP_SECONDS = 1.0
BODY = b'{"title": "Load"}'


def request(host: str, token: str) -> bytes:
    head = (
        f"POST /v1/conversations HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(BODY)}\r\n\r\n"
    )
    return head.encode() + BODY


async def answer(reader: asyncio.StreamReader) -> int:
    """Read one response; its status code (0 when the server closed the connection)."""
    try:
        status_line = await reader.readline()
    except ConnectionResetError:
        return 0
    if not status_line:
        return 0
    status = int(status_line.split(b" ", 2)[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


async def connection(
    host: str, port: int, payload: bytes, until: float, measure_from: float
) -> tuple[list[float], int]:
    """Post back to back until ``until``; latencies (ms) after ``measure_from``, errors."""
    reader, writer = await asyncio.open_connection(host, port)
    latencies, errors = [], 0
    try:
        while (began := time.perf_counter()) < until:
            writer.write(payload)
            status = await answer(reader)
            if status == 0:  # closed by the server: counted as an error, and reconnect
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
            if began >= measure_from:
                latencies.append((time.perf_counter() - began) * 1000)
                errors += status != 201
    finally:
        writer.close()
    return latencies, errors


async def run(url: str, token: str, connections: int, seconds: float) -> dict[str, float]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    payload = request(f"{host}:{port}", token)
    began = time.perf_counter()
    measure_from = began + WARM_UP_SECONDS
    until = measure_from + seconds
    results = await asyncio.gather(
        *(connection(host, port, payload, until, measure_from) for _ in range(connections))
    )
    latencies = sorted(ms for samples, _ in results for ms in samples)
    elapsed = time.perf_counter() - measure_from
    return {
        "commands": len(latencies),
        "commands_per_s": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))],
        "errors": sum(errors for _, errors in results),
    }


def main() -> None:
    url, connections, seconds = sys.argv[1:4]
    token = os.environ["CHRONICLE_BENCH_TOKEN"]
    figures = asyncio.run(run(url, token, int(connections), float(seconds)))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
