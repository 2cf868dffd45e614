"""`chronicle demo` against the real API: a few seconds of it leave every kind of activity
the console shows (conversations, answered and failed runs, tasks done, retried and
dead-lettered, a co-edited document, an alert rule), and it stops by itself."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from infrastructure.settings import Settings
from tests.integration.cli import run_cli
from tests.integration.conftest import KeyFactory


async def until(check: Any, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, "not within the time"
        await asyncio.sleep(0.2)


async def test_a_short_demo_leaves_every_kind_of_activity(
    api_url: str, servers: Settings, issue_key: KeyFactory
) -> None:
    key = issue_key()
    began = time.monotonic()
    done = await asyncio.to_thread(
        run_cli, servers, "demo", "--minutes", "0.1", "--url", api_url, "--key", key, "--seed", "1"
    )
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - began < 40  # it stops by itself
    summary = done.stdout.splitlines()[-1]
    for kind in ("3 conversations", "runs completed", "tasks succeeded", "document ops"):
        assert kind in summary, summary

    async with httpx.AsyncClient(
        base_url=api_url, headers={"Authorization": f"Bearer {key}"}, timeout=30
    ) as http:
        conversations = (await http.get("/v1/conversations")).json()["items"]
        assert len(conversations) == 3
        runs = (await http.get(f"/v1/conversations/{conversations[-1]['id']}/runs")).json()
        assert runs["items"] and runs["items"][0]["agent"] == "concierge"

        async def dead_lettered() -> bool:
            counts = (await http.get("/v1/dashboard/tasks")).json()["counts"]
            return bool(counts["dead"] >= 1 and counts["succeeded"] >= 1)

        await until(dead_lettered)
        documents = (await http.get("/v1/documents")).json()["items"]
        document = (await http.get(f"/v1/documents/{documents[0]['id']}")).json()
        assert document["content"].startswith("Launch plan")
        rules = (await http.get("/v1/alert-rules")).json()["items"]
        assert [r["metric"] for r in rules] == ["runs_failed"]
