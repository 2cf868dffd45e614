"""Faults under load, for real: kill -9 of each server `chronicle up` started, and of a
standalone `chronicle relay` and `chronicle project` beside it, while writers post and a
live client follows.

For each fault three writers post to three new conversations (each message with an
Idempotency-Key of its own, retried with that key until a 2xx), an SSE client follows
them (resuming with Last-Event-ID on every reconnect, and reconnecting every second), a
reader reads its writes, and a task is claimed whose lease runs out about when the
process gets SIGKILL. Once the process (or its standby) works again and more writes are
acknowledged, the writers stop. Then: acknowledged writes = stored events = events
delivered live (once each, in position order) = JetStream's (once each) = the read model;
no answer was a 500; the sealer and the scheduler inside `up` caught up by themselves;
`chronicle audit verify` says intact.

The run's summary prints what each fault measured under "fault tests": writes
acknowledged and events delivered; the answers the writers, the reader and the live
client met; seconds from the kill until the server answered again with `/readyz` ready (or
a standby relay took over) (`back_s`), until a write sent after the kill was delivered
live (`live_again_s`) and was in the read model (`read_again_s`); the median lag from
acknowledgement to live delivery once recovered (`live_lag_after_ms_p50`).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import nats
import pytest

from infrastructure.envelope import SUBJECT_PREFIX
from tests.e2e.conftest import Chronicle
from tests.e2e.stack import Stack, kill
from tests.e2e.traffic import (
    Ack,
    LiveClient,
    Outcomes,
    Reader,
    Writers,
    eventually,
    get_json,
    until_acknowledged,
)

WRITES_BEFORE = 60  # acknowledged before the kill
WRITES_AFTER = 60  # acknowledged once the process (or its standby) works again
CATCH_UP_WITHIN_S = 30


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    up = Chronicle(tmp_path_factory.mktemp("faults") / "data")
    up.extra_env = {"CHRONICLE_RATE_LIMIT_PER_MINUTE": "1000000"}
    up.start()
    stack = Stack(up)
    try:
        stack.spawn("relay")
        stack.spawn("project")
        yield stack
    finally:
        stack.stop()


@dataclass
class Observed:
    """What a fault under load left: the traffic's view, and the system's."""

    target: str
    killed_at: float
    recovery: dict[str, object]
    writers: Writers
    reader: Reader
    live: LiveClient
    stored: dict[str, list[tuple[int, str]]]  # conversation: (position, message id)
    read: dict[str, list[str]]  # conversation: message ids in the read model
    published: list[int]  # positions in JetStream
    verdict: subprocess.CompletedProcess[str]  # of `chronicle audit verify --json`
    helpers_running: dict[str, int | None]

    @property
    def acks(self) -> list[Ack]:
        return self.writers.acks

    def report(self) -> dict[str, object]:
        sent_after = {a.position for a in self.acks if a.sent_at > self.killed_at}
        live_again = [d.at for d in self.live.delivered if d.position in sent_after]
        read_again = [at for at, reached in self.reader.reached if reached >= min(sent_after)]
        acknowledged_at = {a.position: a.acknowledged_at for a in self.acks[-WRITES_AFTER:]}
        lags = sorted(
            d.at - acknowledged_at[d.position]
            for d in self.live.delivered
            if d.position in acknowledged_at
        )

        def since_kill(moments: list[float]) -> float | None:
            return round(min(moments) - self.killed_at, 2) if moments else None

        return {
            "killed": self.target,
            **self.recovery,
            "live_again_s": since_kill(live_again),
            "read_again_s": since_kill(read_again),
            "writes_acknowledged": len(self.acks),
            "delivered_live": len(self.live.delivered),
            "live_lag_after_ms_p50": round(1000 * lags[len(lags) // 2]) if lags else None,
            "writers_met": dict(self.writers.outcomes.seen),
            "reader_met": dict(self.reader.answers.seen),
            "live_client_met": dict(self.live.answers.seen),
        }


# PostgreSQL once more at the end: recovery must not slow down from one outage to the next.
@pytest.mark.parametrize(
    "target",
    [
        "postgres",
        "nats",
        "valkey",
        "relay",
        "project",
        pytest.param("postgres", id="postgres-again"),
    ],
)
async def test_a_kill_9_loses_no_acknowledged_write_and_repeats_no_event(
    stack: Stack, target: str, record_property: Callable[[str, object], None]
) -> None:
    seen = await kill_under_load(stack, target)
    record_property("fault", seen.report())

    assert seen.helpers_running == dict.fromkeys(stack.helpers), "a standalone process died"
    met = [seen.writers.outcomes.seen, seen.reader.answers.seen, seen.live.answers.seen]
    assert not any(answers["500"] for answers in met), "an outage surfaced as a 500"
    acknowledged = {a.message_id: a.position for a in seen.acks}
    assert len(acknowledged) == len(seen.acks), "a message was acknowledged twice"
    stored = [pair for pairs in seen.stored.values() for pair in pairs]
    assert len({m for _, m in stored}) == len(stored), "a message was stored twice"
    assert {m: p for p, m in stored} == acknowledged, "acknowledged writes != stored events"
    delivered = [d.position for d in seen.live.delivered]
    assert delivered == sorted(set(delivered)), "live events repeated or out of order"
    assert set(delivered) == set(acknowledged.values()), "delivered live != stored events"
    assert sorted(seen.published) == sorted(acknowledged.values()), "JetStream != stored"
    for conversation, pairs in seen.stored.items():
        assert seen.read[conversation] == [m for _, m in pairs], "the read model misses some"
    assert seen.verdict.returncode == 0, seen.verdict.stderr
    assert json.loads(seen.verdict.stdout.splitlines()[-1])["intact"] is True


async def kill_under_load(stack: Stack, target: str) -> Observed:
    """Load, kill -9 of ``target``, recovery, more load; then what every part holds."""
    if target == "relay":  # so that the kill hits the relay that publishes
        await asyncio.to_thread(stack.make_standalone_relay_active)
    headers = {"Authorization": f"Bearer {stack.up.key}"}
    async with httpx.AsyncClient(base_url=stack.up.url, headers=headers, timeout=15) as http:
        created = [
            await until_acknowledged(http, "/v1/conversations", {"title": title}, Outcomes())
            for title in (f"{target} {i}" for i in range(3))
        ]
        conversations = [c["id"] for c in created]
        subjects = [f"conversation.{c}" for c in conversations]
        live = LiveClient(http, subjects, max(c["position"] for c in created))
        writers = Writers(http, conversations)
        reader = Reader(http, writers)
        live.start()
        writers.start()
        reader.start()
        try:
            await writers.until(WRITES_BEFORE)
            await burst(http, conversations)
            task = await lease_running_out(http, f"fault-{target}")
            killed_at = time.monotonic()
            recovery = await kill(stack, target)
            await writers.until(len(writers.acks) + WRITES_AFTER)
            await writers.stop()
            await live.until({a.position for a in writers.acks}, CATCH_UP_WITHIN_S)
            await asyncio.sleep(0.5)  # time for a duplicate to show
        finally:
            await writers.cancel()
            await reader.stop()
            await live.stop()
        head = max(a.position for a in writers.acks)
        stored = {c: await stored_messages(http, c) for c in conversations}
        read = {c: await read_model(http, c, head) for c in conversations}
        await eventually(lambda: task_state(http, task), "dead", "the scheduler timed out")
    await eventually(lambda: sealed(stack), head, "the sealer sealed", at_least=True)
    await eventually(lambda: relayed(stack), head, "the relay published", at_least=True)
    return Observed(
        target,
        killed_at,
        recovery,
        writers,
        reader,
        live,
        stored,
        read,
        await jetstream(stack, conversations),
        await asyncio.to_thread(stack.up.cli, "audit", "verify", "--json"),
        {name: helper.poll() for name, helper in stack.helpers.items()},
    )


async def burst(http: httpx.AsyncClient, conversations: list[str], size: int = 24) -> None:
    """Reads enough at once that the API's pools hold many connections, as after any busy
    moment: a restart breaks every one of them."""
    paths = [
        f"/v1/streams/{c}/events" if n % 2 else f"/v1/conversations/{c}/messages"
        for n, c in enumerate(conversations * size)
    ]
    await asyncio.gather(*(get_json(http, path, {"limit": 500}) for path in paths[:size]))


async def lease_running_out(http: httpx.AsyncClient, kind: str) -> str:
    """A task claimed now with a half-second lease and no attempt left: the scheduler
    must time it out (to ``dead``) about when the process is killed."""
    outcomes = Outcomes()
    body = {"type": kind, "timeout_s": 0.5, "max_attempts": 1}
    task = await until_acknowledged(http, "/v1/tasks", body, outcomes)
    claim = {"worker_id": "faults", "types": [kind], "wait_s": 10}
    claimed = await until_acknowledged(http, "/v1/tasks/claim", claim, outcomes)
    assert claimed["task"]["id"] == task["id"]
    return str(task["id"])


async def task_state(http: httpx.AsyncClient, task: str) -> str:
    return str((await get_json(http, f"/v1/tasks/{task}", {})).json()["state"])


async def sealed(stack: Stack) -> int:
    return int(await asyncio.to_thread(stack.query, "SELECT position FROM chronicle_chain_head"))


async def relayed(stack: Stack) -> int:
    return int(await asyncio.to_thread(stack.query, "SELECT position FROM chronicle_relay"))


async def jetstream(stack: Stack, conversations: list[str]) -> list[int]:
    """The position (Nats-Msg-Id) of every MessagePosted of the conversations in JetStream."""
    client = await nats.connect(stack.runtime("nats_url"))
    positions: list[int] = []
    try:
        js = client.jetstream()
        for conversation in conversations:
            subject = f"{SUBJECT_PREFIX}.*.conversation.{conversation}.MessagePosted"
            subscription = await js.subscribe(subject, ordered_consumer=True)
            while True:
                msg = await subscription.next_msg(timeout=CATCH_UP_WITHIN_S)
                positions.append(int((msg.headers or {})["Nats-Msg-Id"]))
                if msg.metadata.num_pending == 0:
                    break
            await subscription.unsubscribe()
    finally:
        await client.close()
    return positions


async def stored_messages(http: httpx.AsyncClient, conversation: str) -> list[tuple[int, str]]:
    """(position, message id) of each MessagePosted in the conversation's stream, in order."""
    found: list[tuple[int, str]] = []
    version: str | None = "1"
    while version is not None:
        params = {"from_version": version, "limit": 500}
        body: dict[str, Any] = (
            await get_json(http, f"/v1/streams/{conversation}/events", params)
        ).json()
        found += [
            (e["position"], e["data"]["message_id"])
            for e in body["items"]
            if e["type"] == "MessagePosted"
        ]
        version = body["next"]
    return found


async def read_model(http: httpx.AsyncClient, conversation: str, min_position: int) -> list[str]:
    """The conversation's message ids in its history, read at ``min_position``."""
    ids: list[str] = []
    after: str | None = None
    while True:
        params: dict[str, object] = {"limit": 500, "min_position": min_position}
        if after is not None:
            params["after"] = after
        page = await get_json(http, f"/v1/conversations/{conversation}/messages", params)
        assert int(page.headers["chronicle-position"]) >= min_position, "the read model lags"
        body = page.json()
        ids += [m["message_id"] for m in body["items"]]
        after = body["next"]
        if after is None:
            return ids
