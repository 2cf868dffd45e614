"""User tokens over real HTTP, NATS and PostgreSQL: a platform's backend mints a token for
one user, whose browser follows exactly that user's conversations live (SSE with
``?token=`` or a cookie, WebSocket); bad tokens are 401, tokens beyond their grant 403,
and a user's tokens are refused on every API process within a second of a revocation."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from websockets.asyncio.client import connect

from api.bootstrap import Container
from infrastructure.settings import Settings
from infrastructure.user_tokens import TokenSigning, token_signing
from tests.integration.cli import run_cli
from tests.integration.conftest import KeyFactory, serving
from tests.integration.sse import collect
from tests.integration.test_audit import bearer
from tests.integration.test_http_conversations import assert_problem, start
from tests.integration.test_live import post

REVOCATION_DEADLINE_S = 1.0
KEY_NEWS_DEADLINE_S = 1.0


async def mint(http: httpx.AsyncClient, **grant: Any) -> dict[str, Any]:
    response = await http.post("/v1/tokens", json={"scopes": ["live:read"], **grant})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def live_status(http: httpx.AsyncClient, token: str) -> int:
    async with http.stream("GET", "/v1/live", params={"token": token}) as response:
        return response.status_code


def claims_of(token: str) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return decoded


async def test_a_user_follows_only_the_conversations_of_the_token(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    a, b, c = [await start(client, title) for title in ("a", "b", "c")]
    minted = await mint(client, user_id="ada@example.com", conversations=[a["id"], c["id"]])
    assert minted["user_id"] == "ada@example.com" and minted["expires_at"]
    claims = claims_of(minted["token"])
    assert claims["sub"] == "ada@example.com" and claims["scope"] == "live:read"
    assert claims["exp"] - claims["iat"] == 3600
    reader = asyncio.create_task(
        collect(anonymous, 2, params={"cursor": c["position"], "token": minted["token"]})
    )
    await asyncio.sleep(0.3)
    await post(client, b["id"], "not for ada")
    first = await post(client, a["id"], "for ada")
    second = await post(client, c["id"], "also for ada")
    frames = await reader
    assert [f.position for f in frames] == [first["position"], second["position"]]


async def test_the_token_also_works_as_a_cookie_a_header_and_over_websocket(
    client: httpx.AsyncClient, api_url: str
) -> None:
    started = await start(client)
    token = (await mint(client, user_id="u1", conversations=[started["id"]]))["token"]
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as browser:
        browser.cookies.set("chronicle_token", token)
        async with browser.stream("GET", "/v1/live") as response:
            assert response.status_code == 200
    async with (
        httpx.AsyncClient(base_url=api_url, headers=bearer(token), timeout=30) as app,
        app.stream("GET", "/v1/live") as response,
    ):
        assert response.status_code == 200
    ws_url = api_url.replace("http", "ws") + f"/v1/live/ws?token={token}"
    async with connect(ws_url) as socket:
        await socket.send(json.dumps({"cursor": started["position"]}))
        posted = await post(client, started["id"], "over the socket")
        event = json.loads(await asyncio.wait_for(socket.recv(), 10))
        assert event["id"] == str(posted["position"])


async def test_a_token_is_refused_beyond_its_grant(client: httpx.AsyncClient, api_url: str) -> None:
    started = await start(client)
    token = (await mint(client, user_id="u2", conversations=[started["id"]]))["token"]
    nothing = (await mint(client, user_id="u3"))["token"]
    async with httpx.AsyncClient(base_url=api_url, headers=bearer(token), timeout=30) as user:
        assert_problem(await user.get("/v1/conversations"), 403)
        assert_problem(await user.post("/v1/tokens", json={"user_id": "x", "scopes": []}), 403)
        other = await user.get("/v1/live", params={"subjects": "run.*"})
        assert_problem(other, 403)
    async with httpx.AsyncClient(base_url=api_url, headers=bearer(nothing), timeout=30) as user:
        assert_problem(await user.get("/v1/live", params={"subjects": "conversation.*"}), 403)
    ws_url = api_url.replace("http", "ws") + f"/v1/live/ws?token={token}"
    async with connect(ws_url) as socket:
        await socket.send(json.dumps({"subjects": ["task.*"]}))
        problem = json.loads(await asyncio.wait_for(socket.recv(), 10))
        assert problem["status"] == 403
        await socket.wait_closed()
        assert socket.close_code == 1008


def forged(container: Container, **changes: Any) -> str:
    """A token signed as the deployment signs them, with ``changes`` to its claims."""
    now = time.time()
    claims = {
        "sub": "mallory",
        "tenant": "t-forged",
        "jti": str(uuid.uuid4()),
        "iat": now,
        "nbf": now,
        "exp": now + 60,
        "scope": "live:read",
        "conversations": [],
        "documents": [],
    }
    return token_signing(container.dsn).sign("t-forged", 1, {**claims, **changes})


@pytest.mark.parametrize(
    "kind",
    [
        "expired",
        "not yet valid",
        "wrongly signed",
        "other tenant",
        "alg none",
        "malformed",
        "garbage",
        "api key in url",
        "no kid",
    ],
)
async def test_a_bad_token_is_401(
    kind: str, api_url: str, container: Container, issue_key: KeyFactory
) -> None:
    now = time.time()
    tokens: dict[str, Callable[[], str]] = {
        "expired": lambda: forged(container, iat=now - 120, nbf=now - 120, exp=now - 60),
        "not yet valid": lambda: forged(container, nbf=now + 600),
        "wrongly signed": lambda: TokenSigning(b"another secret", lambda _: b"").sign(
            "t-forged", 1, {"a": 1}
        ),
        "other tenant": lambda: forged(container, tenant="t-other"),
        "alg none": lambda: jwt.encode(
            {"sub": "m", "tenant": "t-forged"},
            None,  # type: ignore[arg-type]
            "none",
            headers={"kid": "t-forged/1"},
        ),
        "malformed": lambda: "a.b.c",
        "garbage": lambda: "x" * 40,
        "api key in url": lambda: issue_key(),
        "no kid": lambda: jwt.encode({"sub": "m"}, "k" * 32, "HS256"),
    }
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as http:
        response = await http.get("/v1/live", params={"token": tokens[kind]()})
    assert_problem(response, 401)


@pytest.mark.parametrize(
    ("grant", "field"),
    [
        ({"user_id": "a user"}, "user_id"),
        ({"user_id": "u", "ttl_s": 86_401}, "ttl_s"),
        ({"user_id": "u", "scopes": ["admin"]}, "scopes"),
        ({"user_id": "u", "scopes": ["tokens:write"]}, "scopes"),
        ({"user_id": "u", "scopes": []}, "scopes"),
        ({"user_id": "u", "conversations": ["not-a-uuid"]}, "conversations"),
    ],
)
async def test_a_grant_it_cannot_sign_is_400(
    client: httpx.AsyncClient, grant: dict[str, Any], field: str
) -> None:
    response = await client.post("/v1/tokens", json={"scopes": ["live:read"], **grant})
    problem = assert_problem(response, 400)
    assert field in json.dumps(problem)


async def test_minting_needs_the_tokens_scope(api_url: str, issue_key: KeyFactory) -> None:
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as http:
        response = await http.post(
            "/v1/tokens",
            json={"user_id": "u", "scopes": ["live:read"]},
            headers=bearer(issue_key(scopes=("commands:write", "read"))),
        )
    assert_problem(response, 403)


async def test_a_replayed_mint_answers_the_same_token(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    body = {"user_id": "u4", "scopes": ["live:read"]}
    first = await client.post("/v1/tokens", json=body, headers=headers)
    again = await client.post("/v1/tokens", json=body, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()


async def test_revoked_tokens_are_refused_on_every_process_within_a_second(
    api_url: str, servers: Settings, issue_key: KeyFactory
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    backend = bearer(issue_key(tenant, ("tokens:write", "commands:write", "read")))
    with serving(replace(servers, auth_cache_seconds=60.0)) as other_url:
        async with (
            httpx.AsyncClient(base_url=api_url, headers=backend, timeout=30) as platform,
            httpx.AsyncClient(base_url=api_url, timeout=30) as one,
            httpx.AsyncClient(base_url=other_url, timeout=30) as two,
        ):
            started = await start(platform)
            doomed = (await mint(platform, user_id="eve", conversations=[started["id"]]))["token"]
            for http in (one, two):
                assert await live_status(http, doomed) == 200
            revoked = await platform.post("/v1/users/eve/revoke-tokens")
            assert revoked.status_code == 200, revoked.text
            assert revoked.json()["user_id"] == "eve"
            began = time.monotonic()
            for http in (one, two):
                while await live_status(http, doomed) != 401:
                    assert time.monotonic() - began < REVOCATION_DEADLINE_S, "still accepted"
                    await asyncio.sleep(0.02)
            fresh = (await mint(platform, user_id="eve", conversations=[started["id"]]))["token"]
            assert await live_status(two, fresh) == 200  # minted after the revocation


async def answered_everywhere(
    expected: int, token: str, *processes: httpx.AsyncClient, within: float = KEY_NEWS_DEADLINE_S
) -> None:
    """Every process answers a live request with the token ``expected`` within a deadline."""
    began = time.monotonic()
    for http in processes:
        while (status := await live_status(http, token)) != expected:
            assert time.monotonic() - began < within, f"still {status}"
            await asyncio.sleep(0.02)


async def test_a_rotated_key_reaches_every_process_within_a_second(
    api_url: str, servers: Settings, issue_key: KeyFactory
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    backend = bearer(issue_key(tenant, ("tokens:write", "admin", "commands:write", "read")))
    with serving(servers) as other_url:
        async with (
            httpx.AsyncClient(base_url=api_url, headers=backend, timeout=30) as platform,
            httpx.AsyncClient(base_url=api_url, timeout=30) as one,
            httpx.AsyncClient(base_url=other_url, timeout=30) as two,
        ):
            grant = {"user_id": "ada", "conversations": [(await start(platform))["id"]]}
            first = (await mint(platform, **grant))["token"]
            rotated = await platform.post("/v1/tokens/rotate-key", json={})
            assert rotated.status_code == 200, rotated.text
            body = rotated.json()
            assert body["version"] == 2 and body["position"] > 0
            rotated_at = datetime.fromisoformat(body["rotated_at"])
            until = datetime.fromisoformat(body["previous_accepted_until"])
            assert until - rotated_at == timedelta(days=1)
            second = (await mint(platform, **grant))["token"]
            assert jwt.get_unverified_header(second)["kid"] == f"{tenant}/2"
            await answered_everywhere(200, second, one, two)
            await answered_everywhere(200, first, one, two, within=0)
            retired = await platform.post("/v1/tokens/rotate-key", json={"retire_previous": "now"})
            assert retired.status_code == 200 and retired.json()["version"] == 3
            for token in (first, second):
                await answered_everywhere(401, token, one, two)
            third = (await mint(platform, **grant))["token"]
            await answered_everywhere(200, third, one, two)
    by_cli = run_cli(servers, "tokens", "rotate-key", "--tenant", tenant, "--now", "--json")
    assert by_cli.returncode == 0, by_cli.stderr
    assert json.loads(by_cli.stdout)["version"] == 4
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as browser:
        await answered_everywhere(401, third, browser, within=5)


@pytest.mark.parametrize(
    ("body", "scopes", "status"),
    [
        ({"retire_previous": "later"}, ("admin",), 400),
        ({"retire": "now"}, ("admin",), 400),
        ({}, ("tokens:write", "commands:write", "read"), 403),
    ],
)
async def test_rotating_takes_a_known_retirement_and_the_admin_scope(
    api_url: str, issue_key: KeyFactory, body: dict[str, Any], scopes: tuple[str, ...], status: int
) -> None:
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as http:
        response = await http.post(
            "/v1/tokens/rotate-key", json=body, headers=bearer(issue_key(scopes=scopes))
        )
    assert_problem(response, status)


async def test_operators_mint_and_revoke_from_the_cli(
    servers: Settings, api_url: str, issue_key: KeyFactory
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    async with httpx.AsyncClient(
        base_url=api_url, headers=bearer(issue_key(tenant)), timeout=30
    ) as http:
        started = await start(http)
    created = run_cli(
        servers, "tokens", "create", "--tenant", tenant, "--user", "grace",
        "--conversation", started["id"], "--ttl", "600",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]
    assert claims_of(token)["conversations"] == [started["id"]]
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as browser:
        assert await live_status(browser, token) == 200
        revoked = run_cli(servers, "users", "revoke-tokens", "grace", "--tenant", tenant, "--json")
        assert revoked.returncode == 0, revoked.stderr
        assert json.loads(revoked.stdout)["user_id"] == "grace"
        began = time.monotonic()
        while await live_status(browser, token) != 401:
            assert time.monotonic() - began < 5, "the CLI's revocation did not reach the API"
            await asyncio.sleep(0.05)
    bad = run_cli(servers, "tokens", "create", "--tenant", tenant, "--user", "x", "--ttl", "0")
    assert bad.returncode != 0 and "ttl_s" in bad.stderr and "Traceback" not in bad.stderr


async def test_a_user_posts_as_itself_into_its_conversations_only(
    client: httpx.AsyncClient, api_url: str
) -> None:
    mine, other = await start(client, "mine"), await start(client, "other")
    grant = {"user_id": "ada", "conversations": [mine["id"]]}
    writer = (await mint(client, scopes=["messages:write"], **grant))["token"]
    reader = (await mint(client, scopes=["live:read"], **grant))["token"]
    message = {"role": "user", "content": "hi from ada"}
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as browser:
        as_ = bearer
        posted = await browser.post(
            f"/v1/conversations/{mine['id']}/messages", json=message, headers=as_(writer)
        )
        assert posted.status_code == 201, posted.text
        elsewhere = await browser.post(
            f"/v1/conversations/{other['id']}/messages", json=message, headers=as_(writer)
        )
        assert_problem(elsewhere, 404)
        for body in ({**message, "role": "assistant"}, {**message, "author": "bob"}):
            spoofed = await browser.post(
                f"/v1/conversations/{mine['id']}/messages", json=body, headers=as_(writer)
            )
            assert_problem(spoofed, 403)
        unscoped = await browser.post(
            f"/v1/conversations/{mine['id']}/messages", json=message, headers=as_(reader)
        )
        assert_problem(unscoped, 403)
        renamed = await browser.post(
            f"/v1/conversations/{mine['id']}/rename", json={"title": "x"}, headers=as_(writer)
        )
        assert_problem(renamed, 403)
    messages = await client.get(
        f"/v1/conversations/{mine['id']}/messages",
        params={"min_position": posted.json()["position"]},
    )
    (stored,) = [m for m in messages.json()["items"] if m["content"] == "hi from ada"]
    assert stored["author"] == "ada"


async def test_a_user_reads_the_history_of_its_conversations_only(
    client: httpx.AsyncClient, api_url: str
) -> None:
    mine, other = await start(client, "mine"), await start(client, "other")
    posted = await post(client, mine["id"], "earlier")
    await post(client, other["id"], "not for ada")
    token = (await mint(client, user_id="ada", conversations=[mine["id"]]))["token"]
    wait = {"min_position": posted["position"]}
    async with httpx.AsyncClient(base_url=api_url, headers=bearer(token), timeout=30) as user:
        one = await user.get(f"/v1/conversations/{mine['id']}", params=wait)
        assert one.status_code == 200 and one.json()["title"] == "mine"
        history = await user.get(f"/v1/conversations/{mine['id']}/messages")
        assert [m["content"] for m in history.json()["items"]] == ["earlier"]
        message = await user.get(f"/v1/conversations/{mine['id']}/messages/{posted['message_id']}")
        assert message.status_code == 200
        for path in (
            f"/v1/conversations/{other['id']}",
            f"/v1/conversations/{other['id']}/messages",
        ):
            assert_problem(await user.get(path), 404)
        assert_problem(await user.get("/v1/conversations"), 403)
