"""Rate limits per key in Valkey: headers, 429 with Retry-After, shared by two API
processes, and refusals recorded once per key per window."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import replace

import httpx
import redis.asyncio as aioredis
from litestar.testing import TestClient

from api.bootstrap import Container
from api.http.app import create_app
from application.context import CommandContext
from domain.identity import ApiKey
from infrastructure.embedded import free_port
from infrastructure.rate_limit import WINDOW_SECONDS, RateLimiter
from infrastructure.settings import Settings
from tests.integration.conftest import serving
from tests.integration.test_http_conversations import assert_problem


async def limited_key(container: Container, per_minute: int) -> str:
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    context = CommandContext(tenant, "test", "keys.create")
    return (
        await container.identity.issue_key(
            context, tenant, "limited", ["read", "commands:write"], per_minute
        )
    ).token


async def in_one_window(window_s: int = WINDOW_SECONDS, margin: float = 0.2) -> None:
    """Wait for the next window if this one is nearly over (``margin`` of it left):
    windows are fixed spans of wall-clock time, and requests that straddle two are
    counted apart."""
    left = window_s - time.time() % window_s
    if left < margin * window_s:
        await asyncio.sleep(left + 0.01 * window_s)


async def test_answers_carry_ratelimit_headers_and_429_past_the_limit(
    api_url: str, container: Container
) -> None:
    headers = {"Authorization": f"Bearer {await limited_key(container, 5)}"}
    await in_one_window()
    async with httpx.AsyncClient(base_url=api_url, headers=headers) as http:
        answers = [await http.get("/v1/conversations") for _ in range(7)]
    assert [a.status_code for a in answers] == [200] * 5 + [429] * 2
    assert [a.headers["ratelimit-remaining"] for a in answers[:5]] == ["4", "3", "2", "1", "0"]
    assert answers[0].headers["ratelimit-limit"] == "5"
    refused = answers[5]
    body = assert_problem(refused, 429)
    assert body["type"].endswith("rate-limited")
    assert 1 <= int(refused.headers["retry-after"]) <= 60


async def test_two_api_processes_share_one_limit(servers: Settings, container: Container) -> None:
    headers = {"Authorization": f"Bearer {await limited_key(container, 6)}"}
    with serving(servers) as one_url, serving(servers) as two_url:
        async with (
            httpx.AsyncClient(base_url=one_url, headers=headers) as one,
            httpx.AsyncClient(base_url=two_url, headers=headers) as two,
        ):
            await in_one_window()
            answers = await asyncio.gather(*(c.get("/v1/conversations") for c in [one, two] * 5))
    assert sorted(a.status_code for a in answers) == [200] * 6 + [429] * 4


async def test_refusals_are_recorded_once_per_key_and_window(
    servers: Settings, container: Container
) -> None:
    token = await limited_key(container, 2)
    key_id = uuid.UUID(hex=token.split("_")[1])
    redis = aioredis.from_url(servers.redis_url or "")
    try:
        limiter = RateLimiter(redis, 1000, window_s=1)
        await in_one_window(1, margin=0.5)
        verdicts = [await limiter.hit(str(key_id), 2) for _ in range(5)]
        assert [v.allowed for v in verdicts] == [True, True, False, False, False]
        await asyncio.sleep(1.1)
        ended = await limiter.ended_windows()
        assert [(k, n) for k, _, n in ended] == [(str(key_id), 3)]
        assert await limiter.ended_windows() == []  # claimed once
        for found_key, window_start, refused in ended:
            await container.identity.record_rate_limited(
                uuid.UUID(found_key), window_start, refused
            )
    finally:
        await redis.aclose()
    events = container.store.read_stream(key_id, 1, 10)
    assert [e.type for e in events][-1] == "RateLimitExceeded" and events[-1].data["refused"] == 3
    assert container.store.get(key_id, ApiKey).rate_limit_per_minute == 2


async def test_concurrent_requests_share_script_calls_and_each_counts_once(
    servers: Settings,
) -> None:
    redis = aioredis.from_url(servers.redis_url or "")
    limiter = RateLimiter(redis, default_per_minute=40)
    key_id, other = uuid.uuid4().hex, uuid.uuid4().hex
    await redis.config_resetstat()
    try:
        verdicts = await asyncio.gather(
            *(limiter.hit(key_id, None, track_refusals=False) for _ in range(50)),
            *(limiter.hit(other, 100) for _ in range(10)),
        )
        calls = (await redis.info("commandstats"))["cmdstat_evalsha"]["calls"]
    finally:
        await redis.aclose()
    mine, theirs = verdicts[:50], verdicts[50:]
    assert sum(v.allowed for v in mine) == 40
    assert sorted(v.remaining for v in mine if v.allowed) == list(range(40))
    assert sorted(v.remaining for v in theirs) == list(range(90, 100))
    assert calls < 10  # one call per request would be 60


def test_requests_while_valkey_is_unreachable_are_503_problems(
    servers: Settings, container: Container
) -> None:
    unreachable = replace(servers, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    headers = {"Authorization": f"Bearer {container.portal.call(limited_key, container, 100)}"}
    with TestClient(create_app(unreachable)) as client:
        answer = client.post("/v1/conversations", json={"title": "t"}, headers=headers)
    body = assert_problem(answer, 503)
    assert body["type"].endswith("service-unavailable")
    assert answer.headers["retry-after"] == "1"
