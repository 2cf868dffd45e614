"""State as of a version or a time, over HTTP and from the CLI; tenant isolation."""

from __future__ import annotations

import asyncio
import json
import select
import subprocess
import time
from datetime import UTC, datetime
from typing import Any

import httpx

from api.bootstrap import Container
from application.context import CommandContext
from infrastructure.settings import Settings
from tests.integration.cli import CHRONICLE, cli_env, run_cli
from tests.integration.conftest import KeyFactory
from tests.integration.test_http_conversations import assert_problem, start


async def test_state_at_several_versions_and_times(client: httpx.AsyncClient) -> None:
    cid = (await start(client, "First"))["id"]
    await client.post(f"/v1/conversations/{cid}/messages", json={"role": "user", "content": "a"})
    await asyncio.sleep(0.05)
    between = datetime.now(UTC)
    await asyncio.sleep(0.05)
    await client.post(f"/v1/conversations/{cid}/rename", json={"title": "Second"})
    await client.post(f"/v1/conversations/{cid}/archive")

    async def state(**params: str | int) -> dict[str, Any]:
        response = await client.get(f"/v1/streams/{cid}/state", params=params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    v1 = await state(version=1)
    assert v1["version"] == 1 and v1["type"] == "Conversation"
    assert v1["state"]["title"] == "First" and v1["state"]["message_count"] == 0
    v3 = await state(version=3)
    assert v3["state"]["title"] == "Second" and v3["state"]["archived"] is False
    assert [e["type"] for e in v3["events"]] == [
        "ConversationStarted",
        "MessagePosted",
        "ConversationRenamed",
    ]
    then = await state(as_of=between.isoformat())
    assert then["version"] == 2 and then["state"]["title"] == "First"
    latest = await state()
    assert latest["version"] == 4 and latest["state"]["archived"] is True
    assert_problem(await client.get(f"/v1/streams/{cid}/state", params={"version": 9}), 404)
    assert_problem(
        await client.get(f"/v1/streams/{cid}/state", params={"as_of": "2001-01-01T00:00:00Z"}), 404
    )
    assert (await state(version=1, as_of=between.isoformat()))["version"] == 1
    not_yet = await client.get(
        f"/v1/streams/{cid}/state", params={"version": 3, "as_of": between.isoformat()}
    )
    assert_problem(not_yet, 404)  # version 3 came after that time


async def test_another_tenant_cannot_travel_in_time(
    client: httpx.AsyncClient, api_url: str, issue_key: KeyFactory
) -> None:
    cid = (await start(client))["id"]
    async with httpx.AsyncClient(
        base_url=api_url, headers={"Authorization": f"Bearer {issue_key()}"}
    ) as other:
        assert_problem(await other.get(f"/v1/streams/{cid}/state"), 404)


async def test_events_show_and_tail_from_the_cli(scratch: Settings) -> None:
    container = Container.build(scratch)
    try:
        ctx = CommandContext("acme", "test", "t")
        started = await container.conversations.start(ctx, "Old title", [])
        await container.conversations.rename(ctx, started.id, "New title")
        other = await container.conversations.start(
            CommandContext("zeta", "test", "t"), "Other", []
        )
    finally:
        container.close()

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return run_cli(scratch, *args)

    shown = cli("events", "show", str(started.id), "--version", "1", "--json")
    assert shown.returncode == 0, shown.stderr
    body = json.loads(shown.stdout)
    assert body["version"] == 1 and body["state"]["title"] == "Old title"
    assert [e["type"] for e in body["events"]] == ["ConversationStarted"]
    latest = json.loads(cli("events", "show", str(started.id), "--json").stdout)
    assert latest["state"]["title"] == "New title"
    tail = cli(
        "events",
        "tail",
        "--from",
        "0",
        "--tenant",
        "acme",
        "--type",
        "ConversationRenamed",
        "--json",
    )
    lines = [json.loads(line) for line in tail.stdout.splitlines()]
    assert [(e["tenant"], e["type"]) for e in lines] == [("acme", "ConversationRenamed")]
    everything = cli("events", "tail", "--from", "0", "--json").stdout.splitlines()
    assert str(other.id) in everything[-1]
    bad = cli("events", "show", "not-an-id")
    assert bad.returncode != 0 and bad.stderr.strip().count("\n") == 0
    missing = cli("events", "show", "6d9a9d3c-2c3a-4bb1-9d1a-2f3c3c6a0b11")
    assert missing.returncode != 0 and "no stream" in missing.stderr


async def test_events_tail_follow_prints_each_new_event_of_its_tenant_as_it_is_appended(
    scratch: Settings,
) -> None:
    container = Container.build(scratch)
    follower = subprocess.Popen(
        [CHRONICLE, "events", "tail", "--follow", "--tenant", "acme", "--json", "--from", "0"],
        env=cli_env(scratch),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert follower.stdout is not None
    try:
        for title in ("First", "Second"):
            await container.conversations.start(CommandContext("zeta", "test", "t"), "Not", [])
            await container.conversations.start(CommandContext("acme", "test", "t"), title, [])
            ready, _, _ = await asyncio.to_thread(select.select, [follower.stdout], [], [], 20)
            assert ready, "no line within 20 s"
            line = json.loads(follower.stdout.readline())
            assert (line["tenant"], line["data"]["title"]) == ("acme", title)
    finally:
        follower.terminate()
        container.close()
    assert follower.wait(20) == 0  # SIGTERM ends it as Ctrl-C does


async def test_replay_shows_a_run_step_by_step_at_recorded_pace(scratch: Settings) -> None:
    container = Container.build(scratch)
    try:
        ctx = CommandContext("acme", "test", "t")
        conversation = await container.conversations.start(ctx, "Run", [])
        run = await container.runs.start(ctx, conversation.id, "planner", "m", None)
        await container.runs.think(ctx, run.id, "first")
        time.sleep(0.3)
        await container.runs.start_tool(ctx, run.id, "c1", "search", {"q": 1})
        await container.runs.finish_tool(ctx, run.id, "c1", {"hits": 0}, None, 5)
        await container.runs.complete(ctx, run.id, "done", {"output_tokens": 1})
    finally:
        container.close()
    began = time.monotonic()
    replayed = run_cli(scratch, "replay", str(run.id), "--json", "--speed", "1")
    took = time.monotonic() - began
    assert replayed.returncode == 0, replayed.stderr
    steps = [json.loads(line) for line in replayed.stdout.splitlines()]
    assert [s["step"] for s in steps] == [
        "agent_started",
        "agent_thinking",
        "tool_executing",
        "tool_completed",
        "agent_completed",
    ]
    assert steps[2]["offset_ms"] - steps[1]["offset_ms"] >= 290
    assert took >= 0.3
    not_a_run = run_cli(scratch, "replay", str(conversation.id))
    assert not_a_run.returncode != 0 and "no agent run" in not_a_run.stderr


async def test_replay_and_show_keep_to_the_named_tenant(scratch: Settings) -> None:
    container = Container.build(scratch)
    try:
        ctx = CommandContext("acme", "test", "t")
        conversation = await container.conversations.start(ctx, "Run", [])
        run = await container.runs.start(ctx, conversation.id, "planner", "m", None)
    finally:
        container.close()
    own = run_cli(scratch, "replay", str(run.id), "--tenant", "acme", "--json")
    assert own.returncode == 0 and "agent_started" in own.stdout
    for command in (["replay", str(run.id)], ["events", "show", str(conversation.id)]):
        other = run_cli(scratch, *command, "--tenant", "globex", "--json")
        assert other.returncode != 0 and other.stdout == ""
        assert "no " in other.stderr and "acme" not in other.stderr
