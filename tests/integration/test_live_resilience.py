"""Live delivery across failures: relay kill -9, NATS restart, two API processes, slow clients."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import nats
import psutil
import psycopg
import pytest

from api.bench.workload import fill_log
from api.bootstrap import Container
from application.context import CommandContext
from infrastructure.embedded import EmbeddedNats, free_port, port_open
from infrastructure.relay import RelayThread
from infrastructure.settings import Settings
from tests.integration.cli import CHRONICLE, cli_env
from tests.integration.conftest import serving
from tests.integration.sse import Frame, collect, frames


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[EmbeddedNats]:
    """A NATS server of this test's own, so restarting it disturbs nothing else."""
    server = EmbeddedNats(tmp_path / "nats" / "data")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def world(scratch: Settings, own_nats: EmbeddedNats) -> Iterator[tuple[Settings, Container, str]]:
    """Settings on a scratch database and our own NATS, a container, and a tenant key."""
    settings = replace(scratch, nats_url=own_nats.url)
    container = Container.build(settings)
    context = CommandContext("chaos", "test", "keys.create")
    key = container.portal.call(
        container.identity.issue_key, context, "chaos", "t", ["commands:write", "read", "live:read"]
    )
    yield settings, container, key.token
    container.close()


def spawn(settings: Settings, *args: str, port: int | None = None) -> subprocess.Popen[bytes]:
    """`chronicle <args>` in its own process, on the settings' servers."""
    env = cli_env(settings)
    if port is not None:
        env["CHRONICLE_PORT"] = str(port)
    return subprocess.Popen(
        [CHRONICLE, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


async def jetstream_positions(nats_url: str, tenant: str, expected: int) -> list[int]:
    """Every Nats-Msg-Id in the stream for the tenant, in stream order."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        subscription = await js.subscribe(f"chronicle.events.{tenant}.>", ordered_consumer=True)
        seen: list[int] = []
        while True:
            try:
                msg = await subscription.next_msg(timeout=3 if len(seen) >= expected else 20)
            except TimeoutError:
                return seen
            seen.append(int((msg.headers or {})["Nats-Msg-Id"]))
    finally:
        await nc.close()


async def test_relay_kill_9_and_a_nats_restart_lose_and_repeat_nothing(
    world: tuple[Settings, Container, str], own_nats: EmbeddedNats
) -> None:
    settings, container, token = world
    headers = {"Authorization": f"Bearer {token}"}
    relay = spawn(settings, "relay")
    try:
        with serving(settings) as url:
            async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as http:
                cid = (await http.post("/v1/conversations", json={"title": "Chaos"})).json()["id"]
                readers = [
                    asyncio.create_task(
                        collect(
                            http,
                            301,
                            params={"cursor": 0, "subjects": "conversation.*"},
                            timeout=120,
                        )
                    )
                    for _ in range(3)
                ]
                positions = []
                for i in range(300):
                    positions.append(
                        (
                            await http.post(
                                f"/v1/conversations/{cid}/messages",
                                json={"role": "user", "content": f"c{i}"},
                            )
                        ).json()["position"]
                    )
                    if i == 80:
                        relay.send_signal(signal.SIGKILL)
                        relay.wait(10)
                        relay = spawn(settings, "relay")
                    if i == 160:
                        own_nats.stop()
                    if i == 200:
                        own_nats.start()
                results = await asyncio.gather(*readers)
        for received in results:
            got = [f.position for f in received]
            assert got[1:] == positions, "a live client missed or repeated events"
        logged = [e.position for e in container.events.after(0, 10_000, "chaos")]
        published = await jetstream_positions(settings.nats_url or "", "chaos", len(logged))
        assert sorted(published) == logged, "JetStream missed or repeated events"
    finally:
        relay.send_signal(signal.SIGTERM)
        relay.wait(15)


async def test_two_api_processes_both_deliver_everything(
    world: tuple[Settings, Container, str],
) -> None:
    settings, _, token = world
    headers = {"Authorization": f"Bearer {token}"}
    port = free_port()
    api = spawn(settings, "serve", port=port)
    relay = spawn(settings, "relay")
    try:
        for _ in range(300):
            if port_open("127.0.0.1", port):
                break
            await asyncio.sleep(0.1)
        with serving(settings) as first_url:
            second_url = f"http://127.0.0.1:{port}"
            async with (
                httpx.AsyncClient(base_url=first_url, headers=headers, timeout=30) as one,
                httpx.AsyncClient(base_url=second_url, headers=headers, timeout=30) as two,
            ):
                started = (await one.post("/v1/conversations", json={"title": "Two"})).json()
                cid = started["id"]
                params = {
                    "cursor": started["position"],
                    "subjects": f"conversation.{cid}.MessagePosted",
                }
                readers = [
                    asyncio.create_task(collect(c, 40, params=params, timeout=60))
                    for c in (one, two, one, two)
                ]
                await asyncio.sleep(1.0)
                positions = []
                for i in range(40):
                    writer = one if i % 2 else two
                    positions.append(
                        (
                            await writer.post(
                                f"/v1/conversations/{cid}/messages",
                                json={"role": "user", "content": f"{i}"},
                            )
                        ).json()["position"]
                    )
                for received in await asyncio.gather(*readers):
                    assert [f.position for f in received] == positions
    finally:
        for process in (api, relay):
            process.send_signal(signal.SIGTERM)
            process.wait(15)


async def test_a_slow_client_gets_resync_and_server_memory_stays_flat(
    world: tuple[Settings, Container, str],
) -> None:
    settings, container, token = world
    settings = replace(settings, live_buffer=20)
    headers = {"Authorization": f"Bearer {token}"}
    with serving(settings) as url:
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as http:
            start = container.events.head()
            async with http.stream("GET", "/v1/live", params={"cursor": start}) as response:
                assert response.status_code == 200
                rss_before = psutil.Process().memory_info().rss
                for _ in range(4):  # far more than the socket buffers and the 20-event buffer
                    await asyncio.to_thread(fill_log, container.dsn, 10_000, 500, "chaos")
                    await asyncio.sleep(1.5)
                growth = psutil.Process().memory_info().rss - rss_before
                received: list[Frame] = []
                async for frame in frames(response):
                    if frame.comment is None:
                        received.append(frame)
                    if frame.event == "resync":
                        break
    resync = received[-1]
    assert resync.event == "resync"
    delivered = [f.position for f in received[:-1]]
    assert resync.json["cursor"] == resync.position == (delivered[-1] if delivered else start)
    assert delivered == sorted(delivered) and len(delivered) < 40_000
    assert growth < 64 * 2**20, f"server memory grew by {growth / 2**20:.0f} MiB"


async def test_a_stopped_relay_leaves_its_checkpoint_at_the_last_event_it_published(
    world: tuple[Settings, Container, str],
) -> None:
    """The checkpoint is stored with each read: once the relay waits, and after it stops,
    it names the last event; a relay started again publishes only what is new."""
    settings, container, _ = world
    context = CommandContext("chaos", "test", "conversations.start")

    def start(count: int) -> list[int]:
        return [
            container.portal.call(container.conversations.start, context, f"c{i}", []).position
            for i in range(count)
        ]

    def checkpoint() -> int:
        with psycopg.connect(settings.database_url or "") as conn:
            if conn.execute("SELECT to_regclass('chronicle_relay')").fetchone() == (None,):
                return 0  # the relay has not set up yet
            row = conn.execute("SELECT position FROM chronicle_relay").fetchone()
        return row[0] if row else 0

    async def wait_for(position: int) -> None:
        for _ in range(200):
            if checkpoint() >= position:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"the checkpoint did not reach {position}")

    first = start(5)
    relay = RelayThread(container.relay())
    relay.start()
    try:
        await wait_for(first[-1])
        assert checkpoint() == first[-1]
    finally:
        relay.stop()
    later = start(3)
    relay = RelayThread(container.relay())
    relay.start()
    try:
        await wait_for(later[-1])
    finally:
        relay.stop()
    assert checkpoint() == later[-1]
    logged = [e.position for e in container.events.after(0, 10_000, "chaos")]
    published = await jetstream_positions(settings.nats_url or "", "chaos", len(logged))
    assert published == logged
