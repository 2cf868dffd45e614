"""Issue 7's reproductions, each a regression test: every malformed or unstorable request
is a precise 4xx problem+json, nothing of it is stored, and the read models keep
advancing for everyone.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.integration.test_http_conversations import assert_problem, events_of, start

ANY_WRITE = {"Content-Type": "application/json"}


async def run_of(client: httpx.AsyncClient) -> tuple[str, str]:
    conversation = (await start(client))["id"]
    started = await client.post(
        "/v1/runs", json={"conversation_id": conversation, "agent": "a", "model": "m"}
    )
    assert started.status_code == 201, started.text
    return conversation, started.json()["id"]


async def test_unstorable_token_counts_are_refused_and_nothing_is_written(
    client: httpx.AsyncClient,
) -> None:
    conversation, run = await run_of(client)
    before = await events_of(client, conversation)
    posted = await client.post(
        f"/v1/conversations/{conversation}/messages",
        json={"role": "user", "content": "x", "tokens": 9223372036854775808},
    )
    assert_problem(posted, 400, "tokens")
    for usage, field in (
        ({"input_tokens": 1, "output_tokens": 2147483648}, "usage.output_tokens"),
        ({"input_tokens": 4611686018427387904}, "usage.input_tokens"),
        ({"cost_usd": 1e300}, "usage.cost_usd"),
    ):
        completed = await client.post(
            f"/v1/runs/{run}/complete", json={"content": "x", "usage": usage}
        )
        assert_problem(completed, 400, field)
    assert await events_of(client, conversation) == before
    assert len(await events_of(client, run)) == 1  # only its start


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "t", "payload": {"k": "a\u0000b"}}, "payload"),
        ({"type": "t", "payload": {"api_token": "sk-live-SECRET", "note": "\u0000"}}, "payload"),
        ({"type": "t", "payload": {"k\u0000": 1}}, "payload"),
        ({"type": "t", "payload": json.loads("[" * 33 + "]" * 33)}, "payload"),
        ({"type": "t", "payload": 2**64}, "payload"),
        ({"type": "t", "run_at": -132899}, "run_at"),
        ({"type": "t", "run_at": "2026-01-01T00:00:00"}, "run_at"),
        ({"type": "é"}, "type"),
        ({"type": "t", "priority": "5"}, "priority"),
        ({"type": "t", "priority": 5.5}, "priority"),
        ({"type": "t", "surprise": 1}, "surprise"),
    ],
)
async def test_a_task_that_no_read_model_could_hold_is_400(
    client: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    assert_problem(await client.post("/v1/tasks", json=body), 400, field)


async def test_a_whole_number_written_as_a_float_is_an_integer(client: httpx.AsyncClient) -> None:
    submitted = await client.post("/v1/tasks", json={"type": "t", "priority": 5.0})
    assert submitted.status_code == 201, submitted.text


async def test_a_string_is_not_a_number(client: httpx.AsyncClient) -> None:
    cid = (await start(client))["id"]
    posted = await client.post(
        f"/v1/conversations/{cid}/messages", json={"role": "user", "content": "x", "tokens": "5"}
    )
    body = assert_problem(posted, 400, "tokens")
    assert "str" in body["errors"][0]["message"]


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/search/messages", {"q": "a\x00b"}, "q"),
        ("/v1/tasks", {"type": "a\x00b"}, "type"),
        ("/v1/audit", {"actor": "a\x00b"}, "actor"),
        ("/v1/tasks", {"state": "null"}, "state"),
        ("/v1/tasks", {"limit": "1e3"}, "limit"),
        ("/v1/audit", {"since": "1700000000"}, "since"),
        ("/v1/audit", {"since": "2026-01-01T00:00:00"}, "since"),
        ("/v1/conversations", {"after": "-1"}, "after"),
        ("/v1/conversations", {"after": "1" * 19}, "after"),
    ],
)
async def test_query_parameters_are_read_as_written(
    client: httpx.AsyncClient, path: str, params: dict[str, str], field: str
) -> None:
    assert_problem(await client.get(path, params=params), 400, field)


async def test_a_parameter_given_twice_is_400(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/v1/tasks?state=pending&state=dead"), 400, "state")


@pytest.mark.parametrize("depth", [33, 1000, 100_000])
async def test_deeply_nested_json_is_400_on_every_body(
    client: httpx.AsyncClient, depth: int
) -> None:
    nested = "[" * depth + "]" * depth
    for path in ("/v1/conversations", "/v1/tasks"):
        response = await client.post(path, content=nested, headers=ANY_WRITE)
        assert_problem(response, 400)
    deep_payload = '{"type": "t", "payload": ' + nested + "}"
    assert_problem(await client.post("/v1/tasks", content=deep_payload, headers=ANY_WRITE), 400)


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/xml", "application/x-www-form-urlencoded", None],
)
async def test_a_body_that_is_not_json_is_415(
    client: httpx.AsyncClient, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = await client.post("/v1/conversations", content=b'{"title": "x"}', headers=headers)
    assert_problem(response, 415)


async def test_json_media_types_with_a_suffix_or_charset_are_json(
    client: httpx.AsyncClient,
) -> None:
    for content_type in ("application/json; charset=utf-8", "application/vnd.chronicle+json"):
        response = await client.post(
            "/v1/conversations", content=b'{"title": "x"}', headers={"Content-Type": content_type}
        )
        assert response.status_code == 201, response.text
    latin = await client.post(
        "/v1/conversations",
        content=b'{"title": "x"}',
        headers={"Content-Type": "application/json; charset=latin-1"},
    )
    assert_problem(latin, 415)


@pytest.mark.parametrize(
    ("params", "headers", "field"),
    [
        ({"cursor": "99999999999999999999"}, {}, "cursor"),
        ({"cursor": "-1"}, {}, "cursor"),
        ({"cursor": str(10**15)}, {}, "cursor"),  # beyond the log's head
        ({}, {"Last-Event-ID": "99999999999999999999"}, "Last-Event-ID"),
        ({}, {"Last-Event-ID": str(10**15)}, "Last-Event-ID"),
        ({"subjects": "conversation.*,,run.*"}, {}, "subjects"),
    ],
)
async def test_a_live_stream_from_a_position_no_event_has_is_400(
    client: httpx.AsyncClient, params: dict[str, str], headers: dict[str, str], field: str
) -> None:
    assert_problem(await client.get("/v1/live", params=params, headers=headers), 400, field)


@pytest.mark.parametrize(
    ("frame", "field"),
    [
        ({"cursor": -1}, "cursor"),
        ({"cursor": 10**15}, "cursor"),
        ({"cursor": "5"}, "cursor"),
        ({"cursor": 0, "subjects": ["chat.*"]}, "subjects"),
        ({"cursor": 0, "extra": True}, "extra"),
    ],
)
async def test_a_bad_first_websocket_frame_is_a_problem_then_1008(
    client: httpx.AsyncClient, api_url: str, frame: dict[str, Any], field: str
) -> None:
    url = api_url.replace("http", "ws") + "/v1/live/ws"
    async with connect(
        url, additional_headers={"Authorization": client.headers["authorization"]}
    ) as ws:
        await ws.send(json.dumps(frame))
        problem = json.loads(await ws.recv())
        assert problem["status"] == 400 and [e["field"] for e in problem["errors"]] == [field]
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


async def test_a_created_resource_is_where_location_says(client: httpx.AsyncClient) -> None:
    created = await client.post("/v1/conversations", json={"title": "Here"})
    assert created.status_code == 201
    conversation = await client.get(
        created.headers["Location"], params={"min_position": created.json()["position"]}
    )
    assert conversation.status_code == 200 and conversation.json()["title"] == "Here"
    posted = await client.post(
        f"{created.headers['Location']}/messages", json={"role": "user", "content": "hi"}
    )
    message = await client.get(
        posted.headers["Location"], params={"min_position": posted.json()["position"]}
    )
    assert message.status_code == 200 and message.json()["content"] == "hi"
    assert message.json()["message_id"] == posted.json()["message_id"]


async def test_a_get_with_the_current_etag_is_304(client: httpx.AsyncClient) -> None:
    started = await start(client)
    path = f"/v1/conversations/{started['id']}"
    fresh = await client.get(path, params={"min_position": started["position"]})
    etag = fresh.headers["ETag"]
    unchanged = await client.get(path, headers={"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.content == b""
    assert unchanged.headers["ETag"] == etag
    assert (await client.get(path, headers={"If-None-Match": f'W/{etag}, "0"'})).status_code == 304
    renamed = await client.post(f"{path}/rename", json={"title": "New"})
    changed = await client.get(
        path, params={"min_position": renamed.json()["position"]}, headers={"If-None-Match": etag}
    )
    assert changed.status_code == 200 and changed.headers["ETag"] != etag


async def test_options_lists_every_method_of_the_path(client: httpx.AsyncClient) -> None:
    for path, methods in (
        ("/v1/conversations", "GET, OPTIONS, POST"),
        ("/v1/runs", "OPTIONS, POST"),
    ):
        response = await client.options(path)
        assert response.status_code == 204 and response.headers["Allow"] == methods


@pytest.mark.parametrize(
    "header", [b"X-Request-ID: a\x00b", b"Idempotency-Key: a\x00b", b"Authorization: Bearer \x00"]
)
async def test_a_header_holding_nul_is_a_400_problem(api_url: str, header: bytes) -> None:
    host, port = api_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"GET /v1/conversations HTTP/1.1\r\nHost: x\r\n" + header + b"\r\n\r\n")
    answer = await reader.read()
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    assert b"content-type: application/problem+json" in head.lower()
    assert json.loads(body)["status"] == 400


async def test_a_refused_pattern_is_explained_in_words(client: httpx.AsyncClient) -> None:
    searched = assert_problem(await client.get("/v1/search/messages?q=a%00b"), 400, "q")
    assert searched["errors"][0]["message"] == "must not contain NUL characters"
    blank = assert_problem(await client.post("/v1/conversations", json={"title": "  "}), 400)
    assert blank["errors"][0] == {
        "field": "title",
        "message": "must not be blank or contain NUL characters",
        "source": "body",
    }
