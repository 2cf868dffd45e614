"""Agent runs over HTTP: the five agent events, their rules, atomic completion, deltas."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from tests.integration.sse import collect
from tests.integration.test_http_conversations import assert_problem, events_of, start


async def new_run(client: httpx.AsyncClient) -> tuple[str, str]:
    cid, started = await start_run(client)
    return cid, started["id"]


async def start_run(client: httpx.AsyncClient) -> tuple[str, dict[str, Any]]:
    """A new conversation's id, and the answer to starting a run in it (id, position)."""
    cid = (await start(client))["id"]
    response = await client.post(
        "/v1/runs", json={"conversation_id": cid, "agent": "planner", "model": "m-1"}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return cid, body


async def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_full_run_builds_a_timeline_and_posts_the_answer(client: httpx.AsyncClient) -> None:
    cid, rid = await new_run(client)
    await ok(await client.post(f"/v1/runs/{rid}/thinking", json={"text": "search first"}))
    await ok(
        await client.post(
            f"/v1/runs/{rid}/tools",
            json={"call_id": "c1", "tool": "search", "arguments": {"q": "x"}},
        )
    )
    await ok(
        await client.post(
            f"/v1/runs/{rid}/tools/c1/result", json={"result": {"hits": 2}, "duration_ms": 42}
        )
    )
    done = await ok(
        await client.post(
            f"/v1/runs/{rid}/complete",
            json={
                "content": "Here you go",
                "usage": {"input_tokens": 10, "output_tokens": 4, "cost_usd": 0.002},
            },
        )
    )
    timeline = (
        await client.get(f"/v1/runs/{rid}", params={"min_position": done["position"]})
    ).json()
    assert [s["kind"] for s in timeline["steps"]] == [
        "agent_started",
        "agent_thinking",
        "tool_executing",
        "tool_completed",
        "agent_completed",
    ]
    assert all(s["duration_ms"] is not None and s["duration_ms"] >= 0 for s in timeline["steps"])
    (call,) = timeline["tool_calls"]
    assert (call["call_id"], call["status"], call["duration_ms"]) == ("c1", "succeeded", 42)
    totals = timeline["totals"]
    assert (totals["input_tokens"], totals["output_tokens"], totals["cost_usd"]) == (10, 4, 0.002)
    assert totals["wall_ms"] >= 0 and timeline["state"] == "completed"
    messages = (
        await client.get(
            f"/v1/conversations/{cid}/messages", params={"min_position": done["position"]}
        )
    ).json()
    (answer,) = messages["items"]
    assert (answer["role"], answer["author"], answer["content"]) == (
        "assistant",
        "planner",
        "Here you go",
    )
    assert answer["message_id"] == done["message_id"] == timeline["output_message_id"]
    runs = (
        await client.get(f"/v1/conversations/{cid}/runs", params={"min_position": done["position"]})
    ).json()
    assert [r["id"] for r in runs["items"]] == [rid]


async def test_run_events_go_live_under_the_agent_names(client: httpx.AsyncClient) -> None:
    _, run = await start_run(client)
    rid = run["id"]
    first = (await client.get(f"/v1/runs/{rid}", params={"min_position": run["position"]})).json()
    reader = asyncio.create_task(collect(client, 3, params={"cursor": 0, "subjects": f"run.{rid}"}))
    await client.post(f"/v1/runs/{rid}/thinking", json={"text": "hmm"})
    await client.post(f"/v1/runs/{rid}/fail", json={"error": "model overloaded"})
    frames = await reader
    assert [f.event for f in frames] == ["agent_started", "agent_thinking", "agent_failed"]
    assert frames[1].json["type"] == "chronicle.run.agent_thinking"
    assert first["state"] == "running"


async def test_deltas_stream_live_and_complete_stores_their_concatenation(
    client: httpx.AsyncClient,
) -> None:
    cid, run = await start_run(client)
    rid = run["id"]
    started = (
        await client.get(f"/v1/conversations/{cid}", params={"min_position": run["position"]})
    ).json()
    reader = asyncio.create_task(collect(client, 2, params={"subjects": f"run.{rid}.agent_delta"}))
    await asyncio.sleep(0.5)
    for piece in ["Hel", "lo ", "world"]:
        response = await client.post(f"/v1/runs/{rid}/deltas", json={"text": piece})
        assert response.status_code == 202
    frames = await reader
    assert [f.event for f in frames] == ["agent_delta", "agent_delta"] and frames[0].id is None
    assert frames[0].json["data"]["text"] == "Hel"
    done = await ok(
        await client.post(f"/v1/runs/{rid}/complete", json={"usage": {"output_tokens": 3}})
    )
    history = (
        await client.get(
            f"/v1/conversations/{cid}/messages", params={"min_position": done["position"]}
        )
    ).json()
    assert [m["content"] for m in history["items"]] == ["Hello world"]
    stored = [e["type"] for e in await events_of(client, rid)]
    assert "agent_delta" not in stored and started["message_count"] == 0


async def test_every_rule_is_a_409_that_writes_nothing(client: httpx.AsyncClient) -> None:
    _, rid = await new_run(client)
    assert_problem(
        await client.post(f"/v1/runs/{rid}/tools/none/result", json={"duration_ms": 1}), 409
    )
    await ok(await client.post(f"/v1/runs/{rid}/tools", json={"call_id": "c1", "tool": "t"}))
    assert_problem(
        await client.post(f"/v1/runs/{rid}/tools", json={"call_id": "c1", "tool": "t"}), 409
    )
    assert_problem(await client.post(f"/v1/runs/{rid}/complete", json={"content": "early"}), 409)
    await ok(
        await client.post(
            f"/v1/runs/{rid}/tools/c1/result", json={"error": "boom", "duration_ms": 3}
        )
    )
    assert_problem(
        await client.post(f"/v1/runs/{rid}/tools/c1/result", json={"duration_ms": 3}), 409
    )
    await ok(await client.post(f"/v1/runs/{rid}/cancel", json={"reason": "user left"}))
    before = len(await events_of(client, rid))
    for path, body in [
        ("thinking", {"text": "late"}),
        ("tools", {"call_id": "c2", "tool": "t"}),
        ("complete", {"content": "late"}),
        ("fail", {"error": "late"}),
        ("cancel", {}),
        ("deltas", {"text": "late"}),
    ]:
        assert_problem(await client.post(f"/v1/runs/{rid}/{path}", json=body), 409)
    assert len(await events_of(client, rid)) == before


async def test_completion_is_atomic_with_the_conversation(client: httpx.AsyncClient) -> None:
    cid, rid = await new_run(client)
    await client.post(f"/v1/conversations/{cid}/archive")
    assert_problem(await client.post(f"/v1/runs/{rid}/complete", json={"content": "too late"}), 409)
    assert [e["type"] for e in await events_of(client, rid)] == ["AgentRunStarted"]
    assert [e["type"] for e in await events_of(client, cid)][-1] == "ConversationArchived"


async def test_a_run_needs_a_conversation_of_the_tenant(client: httpx.AsyncClient) -> None:
    missing = {
        "conversation_id": "6d9a9d3c-2c3a-4bb1-9d1a-2f3c3c6a0b11",
        "agent": "a",
        "model": "m",
    }
    assert_problem(await client.post("/v1/runs", json=missing), 404)
    assert_problem(await client.get("/v1/runs/6d9a9d3c-2c3a-4bb1-9d1a-2f3c3c6a0b11"), 404)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("", {"agent": "a", "model": "m"}, "conversation_id"),
        ("", {"conversation_id": "nope", "agent": "a", "model": "m"}, "conversation_id"),
        ("/thinking", {"text": ""}, "text"),
        ("/thinking", {"text": "x", "mood": 1}, "mood"),
        ("/tools", {"tool": "t"}, "call_id"),
        ("/tools/c1/result", {"duration_ms": -1}, "duration_ms"),
        ("/complete", {"content": "x", "usage": {"input_tokens": -5}}, "usage.input_tokens"),
        ("/fail", {}, "error"),
        ("/deltas", {"text": ""}, "text"),
        ("/cancel", {"reason": 5}, "reason"),
        ("/tools", {"call_id": "c", "tool": "t", "args": {}}, "args"),
    ],
)
async def test_bad_input_is_400_and_writes_nothing(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], field: str
) -> None:
    _, rid = await new_run(client)
    target = "/v1/runs" if path == "" else f"/v1/runs/{rid}{path}"
    assert_problem(await client.post(target, json=body), 400, field)
    assert len(await events_of(client, rid)) == 1


async def test_streamed_deltas_stop_at_what_one_message_may_hold(
    client: httpx.AsyncClient,
) -> None:
    _, run = await start_run(client)
    rid = run["id"]
    piece = "é" * 16_384  # four fill a message: 65,536 characters
    for _ in range(4):
        assert (
            await client.post(f"/v1/runs/{rid}/deltas", json={"text": piece})
        ).status_code == 202
    assert_problem(await client.post(f"/v1/runs/{rid}/deltas", json={"text": "!"}), 409)
    done = await ok(await client.post(f"/v1/runs/{rid}/complete", json={}))
    assert done["message_id"]


async def test_completing_with_nothing_to_say_is_409_after_the_run_is_found(
    client: httpx.AsyncClient,
) -> None:
    _, run = await start_run(client)
    assert_problem(await client.post(f"/v1/runs/{run['id']}/complete", json={}), 409)
    assert_problem(await client.post(f"/v1/runs/{uuid.uuid4()}/complete", json={}), 404)
