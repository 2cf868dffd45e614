"""Every answer carries an X-Request-ID: the client's when it sent a valid one, else one
made for it; a command keeps the client's as its events' correlation id; each request is
one access line naming it."""

from __future__ import annotations

import re

import httpx
import pytest
import structlog
from structlog.testing import capture_logs
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.integration.test_http_conversations import assert_problem, events_of, start

MADE = re.compile(r"^[0-9a-f]{32}$")


def assert_made(response: httpx.Response) -> str:
    request_id = response.headers["x-request-id"]
    assert MADE.fullmatch(request_id), request_id
    return request_id


async def test_a_created_answer_echoes_the_id_sent_and_its_events_keep_it(
    client: httpx.AsyncClient,
) -> None:
    created = await client.post(
        "/v1/conversations", json={"title": "Echoed"}, headers={"X-Request-ID": "req-7!~"}
    )
    assert created.status_code == 201, created.text
    assert created.headers["x-request-id"] == "req-7!~"
    [event] = await events_of(client, created.json()["id"])
    assert event["metadata"]["correlation_id"] == "req-7!~"


async def test_without_an_id_one_is_made_and_the_command_id_stays_the_correlation(
    client: httpx.AsyncClient,
) -> None:
    created = await client.post("/v1/conversations", json={"title": "Unnamed"})
    made = assert_made(created)
    [event] = await events_of(client, created.json()["id"])
    metadata = event["metadata"]
    assert metadata["correlation_id"] == metadata["command_id"] != made
    assert assert_made(await client.get("/healthz")) != made


@pytest.mark.parametrize("sent", ["", "has space", "é", "x" * 201])
async def test_an_invalid_id_is_replaced_by_a_made_one(
    client: httpx.AsyncClient, sent: str
) -> None:
    answered = await client.get("/readyz", headers={b"X-Request-ID": sent.encode()})
    assert answered.status_code == 200
    assert_made(answered)


async def test_refusals_and_unknown_routes_echo_the_id(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    sent = {"X-Request-ID": "refused-1"}
    unauthenticated = await anonymous.get("/v1/conversations", headers=sent)
    assert_problem(unauthenticated, 401)
    conversation = (await start(client))["id"]
    messages, reused = f"/v1/conversations/{conversation}/messages", {"Idempotency-Key": "k-1"}
    first = await client.post(messages, json={"role": "user", "content": "x"}, headers=reused)
    assert first.status_code == 201, first.text
    other = await client.post(
        messages, json={"role": "user", "content": "y"}, headers=reused | sent
    )
    assert_problem(other, 422)
    too_large = await client.post(
        "/v1/conversations", content=b'{"title": "' + b"x" * (1024 * 1024) + b'"}', headers=sent
    )
    assert_problem(too_large, 413)
    unknown = await client.get("/no/such/route", headers=sent)
    assert unknown.status_code == 404
    not_allowed = await client.delete("/healthz", headers=sent)
    assert not_allowed.status_code == 405
    metrics = await anonymous.get("/metrics", headers=sent)
    assert metrics.status_code == 200
    assert_made(first)
    for answer in (unauthenticated, other, too_large, unknown, not_allowed, metrics):
        assert answer.headers["x-request-id"] == "refused-1", answer.request.url


async def test_each_request_is_one_access_line_with_its_route_tenant_and_command(
    client: httpx.AsyncClient,
) -> None:
    conversation = (await start(client))["id"]
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        posted = await client.post(
            f"/v1/conversations/{conversation}/messages",
            json={"role": "user", "content": "hello"},
            headers={"X-Request-ID": "access-1"},
        )
        unknown = await client.get("/no/such/route", headers={"X-Request-ID": "access-2"})
    assert posted.status_code == 201 and unknown.status_code == 404
    lines = {line["request_id"]: line for line in logs if line["event"] == "request"}
    line = lines["access-1"]
    assert line["method"] == "POST"
    assert line["path"] == "/v1/conversations/{conversation_id}/messages"
    assert line["status"] == 201 and line["duration_ms"] > 0
    assert line["tenant"] and line["command"] == "conversation.post_message"
    assert line["log_level"] == "info"
    assert lines["access-2"]["path"] == "/no/such/route" and lines["access-2"]["status"] == 404
    assert "tenant" not in lines["access-2"]


async def test_a_websocket_handshake_echoes_the_id_accepted_or_refused(
    client: httpx.AsyncClient, api_url: str
) -> None:
    url = api_url.replace("http", "ws") + "/v1/live/ws"
    sent = {"X-Request-ID": "socket-1"}
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url, additional_headers=sent):
            pass
    assert refused.value.response.status_code == 401
    assert refused.value.response.headers["x-request-id"] == "socket-1"
    authorised = sent | {"Authorization": client.headers["authorization"]}
    async with connect(url, additional_headers=authorised) as socket:
        assert socket.response is not None
        assert socket.response.headers["x-request-id"] == "socket-1"
