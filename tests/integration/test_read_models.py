"""Queries answered from read models over HTTP: list, detail, history, search, positions."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from api.http.reads import MAX_WAIT_SECONDS
from tests.integration.conftest import KeyFactory
from tests.integration.test_http_conversations import assert_problem, start

POSITION = "chronicle-position"


async def post(
    client: httpx.AsyncClient, cid: str, content: str, role: str = "user"
) -> dict[str, Any]:
    response = await client.post(
        f"/v1/conversations/{cid}/messages", json={"role": role, "content": content}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_query_with_min_position_sees_the_write(client: httpx.AsyncClient) -> None:
    started = await start(client, "Fresh")
    response = await client.get(
        f"/v1/conversations/{started['id']}", params={"min_position": started["position"]}
    )
    assert response.status_code == 200
    assert int(response.headers[POSITION]) >= started["position"]
    assert response.headers["etag"] == '"1"'


async def test_every_query_answer_carries_the_read_model_position(
    client: httpx.AsyncClient,
) -> None:
    started = await start(client)
    queries = [
        ("/v1/conversations", {}),
        (f"/v1/conversations/{started['id']}/messages", {}),
        ("/v1/search/messages", {"q": "x"}),
    ]
    for path, params in queries:
        response = await client.get(path, params=params | {"min_position": started["position"]})
        assert response.status_code == 200, (path, response.text)
        assert int(response.headers[POSITION]) >= started["position"]


async def test_min_position_beyond_the_head_answers_at_once_with_what_it_has(
    client: httpx.AsyncClient,
) -> None:
    """No command gave that position, so waiting the bounded 5 s would only delay."""
    started = await start(client)
    caught_up = await client.get("/v1/conversations", params={"min_position": started["position"]})
    assert int(caught_up.headers[POSITION]) >= started["position"]
    began = time.monotonic()
    response = await client.get(
        "/v1/conversations", params={"min_position": started["position"] + 10**9}
    )
    assert time.monotonic() - began < MAX_WAIT_SECONDS
    assert response.status_code == 200
    assert started["position"] <= int(response.headers[POSITION]) < started["position"] + 10**9


@pytest.mark.parametrize("min_position", ["-1", "9223372036854775808", "1e3", "x"])
async def test_an_out_of_range_min_position_is_400(
    client: httpx.AsyncClient, min_position: str
) -> None:
    response = await client.get("/v1/conversations", params={"min_position": min_position})
    assert_problem(response, 400, "min_position")


async def test_the_list_is_newest_first_with_counts_and_pages(client: httpx.AsyncClient) -> None:
    ids = [(await start(client, f"c{i}"))["id"] for i in range(5)]
    last = await post(client, ids[0], "hello")
    first = await client.get(
        "/v1/conversations", params={"limit": 2, "min_position": last["position"]}
    )
    body = first.json()
    assert [c["id"] for c in body["items"]] == ids[::-1][:2]
    second = (
        await client.get("/v1/conversations", params={"limit": 2, "after": body["next"]})
    ).json()
    third = (
        await client.get("/v1/conversations", params={"limit": 2, "after": second["next"]})
    ).json()
    assert [c["id"] for c in second["items"] + third["items"]] == ids[::-1][2:]
    assert third["next"] is None
    oldest = third["items"][-1]
    assert oldest["message_count"] == 1 and oldest["last_activity_at"] >= oldest["created_at"]


async def test_the_list_shows_only_the_tenants_own(
    client: httpx.AsyncClient, api_url: str, issue_key: KeyFactory
) -> None:
    mine = await start(client, "Mine")
    async with httpx.AsyncClient(
        base_url=api_url, headers={"Authorization": f"Bearer {issue_key()}"}
    ) as other:
        theirs = await other.get("/v1/conversations", params={"min_position": mine["position"]})
        assert theirs.json() == {"items": [], "next": None}
        history = await other.get(
            f"/v1/conversations/{mine['id']}/messages", params={"min_position": mine["position"]}
        )
        assert_problem(history, 404)


async def test_history_is_oldest_first_by_position_and_pages(client: httpx.AsyncClient) -> None:
    cid = (await start(client))["id"]
    posted = [
        await post(client, cid, f"m{i}", role)
        for i, role in enumerate(["user", "assistant", "tool", "user"])
    ]
    page = (
        await client.get(
            f"/v1/conversations/{cid}/messages",
            params={"limit": 3, "min_position": posted[-1]["position"]},
        )
    ).json()
    assert [m["content"] for m in page["items"]] == ["m0", "m1", "m2"]
    assert [m["message_id"] for m in page["items"]] == [p["message_id"] for p in posted[:3]]
    assert [m["position"] for m in page["items"]] == sorted(m["position"] for m in page["items"])
    rest = (
        await client.get(f"/v1/conversations/{cid}/messages", params={"after": page["next"]})
    ).json()
    assert [m["content"] for m in rest["items"]] == ["m3"] and rest["next"] is None
    assert set(page["items"][0]) == {
        "message_id",
        "role",
        "author",
        "content",
        "tokens",
        "position",
        "created_at",
        "content_type",
        "erased",
    }
    assert page["items"][0]["content_type"] == "text/plain"
    assert page["items"][0]["erased"] is False


async def test_history_of_an_unknown_conversation_is_404(client: httpx.AsyncClient) -> None:
    assert_problem(
        await client.get("/v1/conversations/6d9a9d3c-2c3a-4bb1-9d1a-2f3c3c6a0b11/messages"), 404
    )


async def test_search_is_ranked_and_tenant_scoped(
    client: httpx.AsyncClient, api_url: str, issue_key: KeyFactory
) -> None:
    cid = (await start(client))["id"]
    await post(client, cid, "The quarterly budget review is on Tuesday")
    await post(client, cid, "Budget, budget, budget: the budget owner approved the budgets")
    last = await post(client, cid, "Lunch is at noon")
    found = await client.get(
        "/v1/search/messages", params={"q": "budget", "min_position": last["position"]}
    )
    items = found.json()["items"]
    assert [i["content"] for i in items] == [
        "Budget, budget, budget: the budget owner approved the budgets",
        "The quarterly budget review is on Tuesday",
    ]
    assert items[0]["rank"] >= items[1]["rank"] and "<b>" in items[0]["snippet"]
    assert items[0]["conversation_id"] == cid
    phrase = await client.get("/v1/search/messages", params={"q": '"budget review"'})
    assert [i["content"] for i in phrase.json()["items"]] == [
        "The quarterly budget review is on Tuesday"
    ]
    async with httpx.AsyncClient(
        base_url=api_url, headers={"Authorization": f"Bearer {issue_key()}"}
    ) as other:
        assert (await other.get("/v1/search/messages", params={"q": "budget"})).json()[
            "items"
        ] == []


async def test_search_pages(client: httpx.AsyncClient) -> None:
    cid = (await start(client))["id"]
    last = {}
    for i in range(5):
        last = await post(client, cid, f"pagination marker number {i}")
    first = (
        await client.get(
            "/v1/search/messages",
            params={"q": "marker", "limit": 3, "min_position": last["position"]},
        )
    ).json()
    rest = (
        await client.get(
            "/v1/search/messages", params={"q": "marker", "limit": 3, "after": first["next"]}
        )
    ).json()
    contents = [i["content"] for i in first["items"] + rest["items"]]
    assert sorted(contents) == [f"pagination marker number {i}" for i in range(5)]
    assert rest["next"] is None


async def test_bad_query_parameters_are_400(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/v1/conversations", params={"limit": 501}), 400, "limit")
    assert_problem(await client.get("/v1/conversations", params={"limit": 0}), 400, "limit")
    assert_problem(
        await client.get("/v1/conversations", params={"after": "yesterday"}), 400, "after"
    )
    assert_problem(
        await client.get("/v1/conversations", params={"min_position": -1}), 400, "min_position"
    )
    assert_problem(await client.get("/v1/search/messages"), 400, "q")
    assert_problem(await client.get("/v1/search/messages", params={"q": ""}), 400, "q")


async def test_reads_need_the_read_scope(api_url: str, issue_key: KeyFactory) -> None:
    headers = {"Authorization": f"Bearer {issue_key(scopes=('commands:write',))}"}
    async with httpx.AsyncClient(base_url=api_url, headers=headers) as http:
        for path in ["/v1/conversations", "/v1/search/messages?q=x"]:
            assert_problem(await http.get(path), 403)


async def test_readiness_shows_each_projection(
    anonymous: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    await start(client)
    await asyncio.sleep(0.3)
    projections = (await anonymous.get("/readyz")).json()["projections"]
    assert set(projections) >= {"conversations", "messages", "message_search"}
    assert all(p["state"] == "running" for p in projections.values())
