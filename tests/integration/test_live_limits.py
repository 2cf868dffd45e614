"""Caps on concurrent live connections (per tenant, per API key, per user), counted in
Valkey so that every API process shares them; a WebSocket flooding frames is closed; and
the tenant's live statistics, over real HTTP, NATS, Valkey and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from infrastructure.settings import Settings
from tests.integration.conftest import KeyFactory, serving
from tests.integration.test_audit import bearer
from tests.integration.test_http_conversations import assert_problem, start
from tests.integration.test_live import post
from tests.integration.test_user_tokens import mint


@pytest.fixture(scope="module")
def capped(servers: Settings, relaying: None) -> Iterator[tuple[str, str]]:
    """Two API processes with small caps, sharing one Valkey (and the session's relay)."""
    settings = replace(
        servers,
        live_max_per_tenant=5,
        live_max_per_key=3,
        live_max_per_user=2,
        live_frames_per_second=5,
    )
    with serving(settings) as one, serving(settings) as two:
        yield one, two


@contextlib.asynccontextmanager
async def following(
    url: str, headers: dict[str, str] | None = None, params: dict[str, str] | None = None
) -> AsyncIterator[httpx.Response]:
    async with (
        httpx.AsyncClient(base_url=url, timeout=30) as http,
        http.stream("GET", "/v1/live", headers=headers, params=params) as response,
    ):
        yield response


async def test_a_users_connections_are_capped_across_processes(
    capped: tuple[str, str], issue_key: KeyFactory
) -> None:
    one, two = capped
    async with httpx.AsyncClient(base_url=one, headers=bearer(issue_key()), timeout=30) as http:
        token = (await mint(http, user_id="ada"))["token"]
    params = {"token": token}
    async with following(one, params=params) as first, following(two, params=params) as second:
        assert first.status_code == second.status_code == 200
        async with following(one, params=params) as third:
            assert third.status_code == 429
            problem = json.loads(await third.aread())
            assert problem["type"].endswith("live-connections-exceeded")
            assert "per user" in problem["detail"] and third.headers["Retry-After"]
    async with following(two, params=params) as again:
        assert again.status_code == 200  # admitted once one has closed


async def test_a_keys_and_a_tenants_connections_are_capped(
    capped: tuple[str, str], issue_key: KeyFactory
) -> None:
    one, two = capped
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    keys = [bearer(issue_key(tenant, ("live:read",))) for _ in range(2)]
    async with contextlib.AsyncExitStack() as stack:
        for url in (one, two, one):
            held = await stack.enter_async_context(following(url, keys[0]))
            assert held.status_code == 200
        over_key = await stack.enter_async_context(following(two, keys[0]))
        assert over_key.status_code == 429
        for url in (one, two):
            held = await stack.enter_async_context(following(url, keys[1]))
            assert held.status_code == 200
        over_tenant = await stack.enter_async_context(following(one, keys[1]))
        assert over_tenant.status_code == 429
        assert "per tenant" in json.loads(await over_tenant.aread())["detail"]


async def test_a_websocket_over_a_cap_is_closed_with_try_again_later(
    capped: tuple[str, str], issue_key: KeyFactory
) -> None:
    one, _ = capped
    key = bearer(issue_key())
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(3):
            await stack.enter_async_context(following(one, key))
        socket = await stack.enter_async_context(
            connect(one.replace("http", "ws") + "/v1/live/ws", additional_headers=key)
        )
        await socket.send(json.dumps({}))
        problem = json.loads(await asyncio.wait_for(socket.recv(), 10))
        assert problem["status"] == 429
        await socket.wait_closed()
        assert socket.close_code == 1013


async def test_a_websocket_sending_frames_too_fast_is_closed(
    capped: tuple[str, str], issue_key: KeyFactory
) -> None:
    one, _ = capped
    key = bearer(issue_key())
    async with connect(one.replace("http", "ws") + "/v1/live/ws", additional_headers=key) as ws:
        await ws.send(json.dumps({}))
        for _ in range(20):
            await ws.send("ping")
        await asyncio.wait_for(ws.wait_closed(), 10)
        assert ws.close_code == 1008


async def test_live_stats_count_connections_by_transport_and_user(
    capped: tuple[str, str], issue_key: KeyFactory
) -> None:
    one, two = capped
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    admin = bearer(issue_key(tenant, ("admin", "commands:write", "tokens:write", "live:read")))
    async with httpx.AsyncClient(base_url=one, headers=admin, timeout=30) as http:
        started = await start(http)
        token = (await mint(http, user_id="bea", conversations=[started["id"]]))["token"]
        ws_url = two.replace("http", "ws") + f"/v1/live/ws?token={token}"
        async with (
            following(one, params={"token": token}) as sse,
            connect(ws_url) as socket,
        ):
            assert sse.status_code == 200
            await socket.send(json.dumps({}))
            await post(http, started["id"], "counted")
            await asyncio.wait_for(socket.recv(), 10)
            stats = await eventually(http, lambda s: s["delivered"] >= 1)
            assert stats["connections"] == 2
            assert stats["by_transport"] == {"sse": 1, "websocket": 1}
            assert stats["by_user"] == {"bea": 2}
            assert stats["caps"]["per_user"] == 2
        user = httpx.AsyncClient(base_url=one, headers=bearer(token), timeout=30)
        async with user:
            assert_problem(await user.get("/v1/live/stats"), 403)
    async with httpx.AsyncClient(base_url=one, headers=admin, timeout=30) as http:
        after = await eventually(http, lambda s: s["connections"] == 0)
        assert after["by_user"] == {}


async def eventually(http: httpx.AsyncClient, done: Any, seconds: float = 15) -> dict[str, Any]:
    """The stats once ``done(stats)`` (deliveries are added up every few seconds)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        stats: dict[str, Any] = (await http.get("/v1/live/stats")).json()
        if done(stats) or asyncio.get_running_loop().time() > deadline:
            return stats
        await asyncio.sleep(0.2)
