"""Live streams over real HTTP, NATS and PostgreSQL: resume, fan-out, isolation, scopes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.integration.conftest import KeyFactory
from tests.integration.sse import collect
from tests.integration.test_http_conversations import assert_problem, start


async def post(client: httpx.AsyncClient, cid: str, content: str) -> dict[str, Any]:
    response = await client.post(
        f"/v1/conversations/{cid}/messages", json={"role": "user", "content": content}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_an_event_arrives_live_as_a_cloudevent(client: httpx.AsyncClient) -> None:
    started = await start(client, "Live")
    reader = asyncio.create_task(
        collect(
            client,
            1,
            params={"cursor": started["position"], "subjects": f"conversation.{started['id']}"},
        )
    )
    await asyncio.sleep(0.3)
    posted = await post(client, started["id"], "hello live")
    (frame,) = await reader
    assert frame.position == posted["position"] and frame.event == "MessagePosted"
    event = frame.json
    assert event["specversion"] == "1.0" and event["id"] == str(posted["position"])
    assert event["type"] == "chronicle.conversation.MessagePosted"
    assert event["subject"] == started["id"] and event["version"] == 2
    assert event["data"]["content"] == "hello live" and event["tenant"]
    assert event["datacontenttype"] == "application/json" and event["time"]


async def test_resume_with_last_event_id_gets_exactly_the_missed_events(
    client: httpx.AsyncClient,
) -> None:
    cid = (await start(client))["id"]
    positions = [(await post(client, cid, f"m{i}"))["position"] for i in range(6)]
    frames = await collect(
        client,
        4,
        params={"subjects": "conversation.*"},
        headers={"Last-Event-ID": str(positions[1])},
    )
    assert [f.position for f in frames] == positions[2:]
    again = await collect(client, 6, params={"cursor": 0, "subjects": f"conversation.{cid}"})
    assert [f.event for f in again][:2] == ["ConversationStarted", "MessagePosted"]


async def test_without_a_cursor_the_stream_starts_now(client: httpx.AsyncClient) -> None:
    cid = (await start(client))["id"]
    old = (await post(client, cid, "old"))["position"]
    reader = asyncio.create_task(collect(client, 1))
    posted: list[int] = []
    while not reader.done() and len(posted) < 40:  # until the reader has connected
        posted.append((await post(client, cid, "new"))["position"])
        await asyncio.sleep(0.25)
    (frame,) = await reader
    assert frame.position in posted and frame.position > old


async def test_a_hundred_subscribers_each_get_every_event_in_order(
    client: httpx.AsyncClient,
) -> None:
    started = await start(client)
    cid, since = started["id"], started["position"]
    params = {"cursor": since, "subjects": "conversation.*"}
    readers = [
        asyncio.create_task(collect(client, 30, params=params, timeout=90)) for _ in range(100)
    ]
    await asyncio.sleep(1.0)
    positions = [(await post(client, cid, f"fan-out {i}"))["position"] for i in range(30)]
    results = await asyncio.gather(*readers)
    for frames in results:
        assert [f.position for f in frames] == positions


async def test_another_tenant_gets_nothing(
    client: httpx.AsyncClient, api_url: str, issue_key: KeyFactory
) -> None:
    async with httpx.AsyncClient(
        base_url=api_url, headers={"Authorization": f"Bearer {issue_key()}"}
    ) as other:
        theirs = await start(other, "Theirs")
        spy = asyncio.create_task(
            collect(other, 1, params={"cursor": theirs["position"]}, timeout=5)
        )
        cid = (await start(client))["id"]
        await post(client, cid, "secret")
        with pytest.raises(TimeoutError):
            await spy


async def test_subject_filters_select_events(client: httpx.AsyncClient) -> None:
    one, two = (await start(client))["id"], (await start(client))["id"]
    base = (await post(client, one, "a"))["position"]
    await post(client, two, "b")
    await post(client, one, "c")
    only_one = await collect(client, 1, params={"cursor": base, "subjects": f"conversation.{one}"})
    assert only_one[0].json["data"]["content"] == "c"
    by_type = await collect(
        client, 2, params={"cursor": base - 3, "subjects": "ConversationStarted"}
    )
    assert [f.json["subject"] for f in by_type] == [one, two]


@pytest.mark.parametrize(
    "subjects", ["chat.*", "conversation.not-an-id", "conversation.*.Bad-Type", "a.b.c.d"]
)
async def test_bad_filters_are_400(client: httpx.AsyncClient, subjects: str) -> None:
    assert_problem(await client.get("/v1/live", params={"subjects": subjects}), 400, "subjects")


async def test_live_needs_a_key_and_the_live_scope(
    anonymous: httpx.AsyncClient, api_url: str, issue_key: KeyFactory
) -> None:
    assert_problem(await anonymous.get("/v1/live"), 401)
    headers = {"Authorization": f"Bearer {issue_key(scopes=('read',))}"}
    assert_problem(await anonymous.get("/v1/live", headers=headers), 403)
    ws_url = api_url.replace("http", "ws") + "/v1/live/ws"
    wrong = {"Authorization": "Bearer chr_0123456789abcdef0123456789abcdef_nope"}
    for header, status in (({}, 401), (wrong, 401), (headers, 403)):
        with pytest.raises(InvalidStatus) as refused:
            async with connect(ws_url, additional_headers=header):
                pass
        answer = refused.value.response
        assert answer.status_code == status
        assert answer.headers["content-type"] == "application/problem+json"
        assert json.loads(answer.body)["status"] == status


async def test_websocket_resumes_and_follows_live(client: httpx.AsyncClient, api_url: str) -> None:
    cid = (await start(client))["id"]
    first = await post(client, cid, "before")
    ws_url = api_url.replace("http", "ws") + "/v1/live/ws"
    async with connect(
        ws_url, additional_headers={"Authorization": client.headers["authorization"]}
    ) as ws:
        await ws.send(
            json.dumps({"cursor": first["position"] - 2, "subjects": [f"conversation.{cid}"]})
        )
        replayed = [json.loads(await ws.recv()) for _ in range(2)]
        assert [e["type"].rsplit(".", 1)[1] for e in replayed] == [
            "ConversationStarted",
            "MessagePosted",
        ]
        later = await post(client, cid, "after")
        live = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert live["id"] == str(later["position"]) and live["data"]["content"] == "after"


async def test_a_bad_first_websocket_frame_closes_with_an_error(
    client: httpx.AsyncClient, api_url: str
) -> None:
    ws_url = api_url.replace("http", "ws") + "/v1/live/ws"
    async with connect(
        ws_url, additional_headers={"Authorization": client.headers["authorization"]}
    ) as ws:
        await ws.send(json.dumps({"cursor": "soon"}))
        error = json.loads(await ws.recv())
        assert error["status"] == 400 and error["type"].endswith("/validation-error")
        assert [e["field"] for e in error["errors"]] == ["cursor"]
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


async def test_events_reach_jetstream_once_each(client: httpx.AsyncClient, servers: Any) -> None:
    import nats

    cid = (await start(client))["id"]
    positions = [(await post(client, cid, f"js {i}"))["position"] for i in range(5)]
    nc = await nats.connect(servers.nats_url)
    try:
        js = nc.jetstream()
        tenant = (await collect(client, 1, params={"cursor": positions[0] - 1}))[0].json["tenant"]
        subscription = await js.subscribe(
            f"chronicle.events.{tenant}.conversation.{cid}.>", ordered_consumer=True
        )
        seen: list[int] = []
        while len(seen) < 6:
            msg = await subscription.next_msg(timeout=10)
            seen.append(int((msg.headers or {})["Nats-Msg-Id"]))
        assert seen[1:] == positions and len(set(seen)) == 6
        assert msg.subject == f"chronicle.events.{tenant}.conversation.{cid}.MessagePosted"
    finally:
        await nc.close()
