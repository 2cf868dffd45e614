"""Presence and typing across two API processes, over real HTTP, NATS and Valkey: a
user's live connection makes it present in the conversations its token names, its
leaving (or its leases lapsing) makes it absent, and typing reaches the followers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from infrastructure.connections import redis_client
from infrastructure.live_limits import Caps, LiveLimits
from infrastructure.settings import Settings
from tests.integration.conftest import KeyFactory, serving
from tests.integration.sse import frames
from tests.integration.test_audit import bearer
from tests.integration.test_http_conversations import assert_problem, start
from tests.integration.test_user_tokens import mint


@pytest.fixture(scope="module")
def two(servers: Settings, relaying: None) -> Iterator[tuple[str, str]]:
    with serving(servers) as one, serving(servers) as other:
        yield one, other


async def signals(url: str, token: str, count: int) -> list[dict[str, Any]]:
    """The first ``count`` presence and typing events a user's live stream receives."""
    received: list[dict[str, Any]] = []
    async with (
        httpx.AsyncClient(base_url=url, timeout=30) as http,
        http.stream("GET", "/v1/live", params={"token": token}) as response,
    ):
        async for frame in frames(response):
            if frame.event in ("presence", "typing"):
                received.append({"event": frame.event, "id": frame.id, **frame.json["data"]})
                if len(received) >= count:
                    return received
    return received


async def test_presence_and_typing_reach_the_other_participants(
    two: tuple[str, str], issue_key: KeyFactory
) -> None:
    one, other = two
    key = bearer(issue_key())
    async with httpx.AsyncClient(base_url=one, headers=key, timeout=30) as platform:
        cid = (await start(platform))["id"]
        grant = {"conversations": [cid], "scopes": ["live:read", "presence:write"]}
        ada = (await mint(platform, user_id="ada", **grant))["token"]
        bob = (await mint(platform, user_id="bob", **grant))["token"]
        watching = asyncio.create_task(signals(other, bob, 3))
        await asyncio.sleep(0.5)  # bob follows (his own arrival came before he did)
        async with (
            httpx.AsyncClient(base_url=one, timeout=30) as browser,
            browser.stream("GET", "/v1/live", params={"token": ada}) as stream,
        ):
            assert stream.status_code == 200
            await asyncio.sleep(0.3)
            present = await platform.get(f"/v1/conversations/{cid}/presence")
            assert present.json()["users"] == [
                {"user_id": "ada", "connections": 1},
                {"user_id": "bob", "connections": 1},
            ]
            typed = await browser.post(
                f"/v1/conversations/{cid}/typing", json={"user_id": "ada"}, headers=bearer(ada)
            )
            assert typed.status_code == 202 and typed.json() == {"expires_in_s": 5}
        seen = await asyncio.wait_for(watching, 15)
    assert [(s["event"], s["user"], s.get("state")) for s in seen] == [
        ("presence", "ada", "online"),
        ("typing", "ada", None),
        ("presence", "ada", "offline"),
    ]
    assert all(s["id"] is None for s in seen)  # never resumed from: no position
    async with httpx.AsyncClient(base_url=other, headers=key, timeout=30) as platform:
        left = await platform.get(f"/v1/conversations/{cid}/presence")
    assert left.json()["users"] == []


async def test_typing_over_the_websocket(two: tuple[str, str], issue_key: KeyFactory) -> None:
    one, other = two
    async with httpx.AsyncClient(base_url=one, headers=bearer(issue_key()), timeout=30) as http:
        cid = (await start(http))["id"]
        grant = {"conversations": [cid], "scopes": ["live:read", "presence:write"]}
        ada = (await mint(http, user_id="ada", **grant))["token"]
        bob = (await mint(http, user_id="bob", **grant))["token"]
    watching = asyncio.create_task(signals(other, bob, 2))
    await asyncio.sleep(0.5)
    async with connect(one.replace("http", "ws") + f"/v1/live/ws?token={ada}") as socket:
        await socket.send(json.dumps({}))
        await asyncio.sleep(0.3)
        await socket.send(json.dumps({"type": "typing", "conversation_id": cid}))
        await socket.send(json.dumps({"type": "typing", "conversation_id": str(uuid.uuid4())}))
        seen = await asyncio.wait_for(watching, 15)
    assert [(s["event"], s["user"]) for s in seen] == [("presence", "ada"), ("typing", "ada")]


@contextlib.asynccontextmanager
async def live_connection(api_url: str, token: str, transport: str) -> AsyncIterator[None]:
    """A user token's live connection, open while the block runs."""
    if transport == "websocket":
        async with connect(api_url.replace("http", "ws") + f"/v1/live/ws?token={token}") as ws:
            await ws.send(json.dumps({}))
            yield
        return
    async with (
        httpx.AsyncClient(base_url=api_url, timeout=30) as browser,
        browser.stream("GET", "/v1/live", params={"token": token}) as stream,
    ):
        assert stream.status_code == 200
        yield


@pytest.mark.parametrize("transport", ["websocket", "sse"])
async def test_a_connection_that_goes_away_is_let_go_at_once(
    transport: str, api_url: str, client: httpx.AsyncClient
) -> None:
    """Not at the next event or keep-alive: its user leaves the conversation now."""
    cid = (await start(client))["id"]
    ada = (await mint(client, user_id="ada", conversations=[cid]))["token"]
    async with live_connection(api_url, ada, transport):
        await asyncio.sleep(0.3)
        present = await client.get(f"/v1/conversations/{cid}/presence")
        assert present.json()["users"] == [{"user_id": "ada", "connections": 1}]
    began = asyncio.get_running_loop().time()
    while (await client.get(f"/v1/conversations/{cid}/presence")).json()["users"]:
        assert asyncio.get_running_loop().time() - began < 2, "still present"
        await asyncio.sleep(0.05)


async def test_typing_is_a_users_and_only_where_its_token_allows(
    api_url: str, client: httpx.AsyncClient
) -> None:
    mine, other = (await start(client))["id"], (await start(client))["id"]
    reader = (await mint(client, user_id="u", conversations=[mine]))["token"]
    writer = (await mint(client, user_id="u", conversations=[mine], scopes=["presence:write"]))[
        "token"
    ]
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as http:
        as_u = {"user_id": "u"}
        assert_problem(
            await http.post(f"/v1/conversations/{mine}/typing", json=as_u, headers=bearer(reader)),
            403,
        )
        assert_problem(
            await http.post(f"/v1/conversations/{other}/typing", json=as_u, headers=bearer(writer)),
            404,
        )
        assert_problem(await http.get(f"/v1/conversations/{other}/presence",
                                      headers=bearer(reader)), 404)  # fmt: skip
    by_key = await client.post(f"/v1/conversations/{mine}/typing", json={"user_id": "u"})
    assert by_key.status_code == 202, by_key.text
    assert_problem(await client.post(f"/v1/conversations/{mine}/typing", json={}), 400, "user_id")
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as http:
        as_other = await http.post(
            f"/v1/conversations/{mine}/typing", json={"user_id": "v"}, headers=bearer(writer)
        )
        assert_problem(as_other, 403)


@pytest.fixture
async def valkey(servers: Settings) -> AsyncIterator[Any]:
    redis = redis_client(servers.redis_url or "")
    yield redis
    await redis.aclose()


async def test_presence_lapses_when_its_connection_stops_renewing(valkey: Any) -> None:
    """A process that died renews nothing: its users leave when their leases lapse."""
    tenant, conversation = f"t-{uuid.uuid4().hex[:8]}", str(uuid.uuid4())
    dying = LiveLimits(valkey, Caps(), lease_s=0.5)
    await dying.admit(tenant, None, "ada", "sse", [conversation])
    assert await dying.present(tenant, conversation) == {"ada": 1}
    await asyncio.sleep(0.7)
    assert await dying.present(tenant, conversation) == {}
    await dying.close()
