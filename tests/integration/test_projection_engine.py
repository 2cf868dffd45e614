"""The projection engine on real PostgreSQL: never skips, applies once, survives crashes,
rebuilds beside the live copy, and stops at (and can skip) a poison event.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.rows import dict_row
from structlog.testing import capture_logs

from api.bootstrap import Container
from application.context import CommandContext
from domain.conversation import Conversation
from domain.operations import ProjectionLog
from infrastructure.event_store import EVENTS_TABLE
from infrastructure.settings import Settings
from tests.integration.cli import CHRONICLE, cli_env, run_cli
from tests.integration.conftest import KeyFactory

MESSAGE_TOPIC = "domain.conversation:Conversation.MessagePosted"


def ctx(tenant: str = "acme") -> CommandContext:
    return CommandContext(tenant_id=tenant, actor="test", command="test")


def rows(dsn: str, query: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        return conn.execute(query, params).fetchall()


def scalar(dsn: str, query: str, params: tuple[Any, ...] = ()) -> Any:
    return next(iter(rows(dsn, query, params)[0].values()))


def head(dsn: str) -> int:
    query = f"SELECT coalesce(max(notification_id), 0) FROM {EVENTS_TABLE}"  # noqa: S608
    return int(scalar(dsn, query))


def checkpoint(dsn: str, name: str) -> int:
    return int(
        scalar(
            dsn,
            "SELECT c.position FROM chronicle_projections p JOIN chronicle_checkpoints c"
            " ON c.name = p.name AND c.generation = p.generation WHERE p.name = %s",
            (name,),
        )
    )


def wait_until(condition: Callable[[], bool], timeout: float = 30, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def caught_up(dsn: str, *names: str) -> Callable[[], bool]:
    return lambda: all(checkpoint(dsn, n) >= head(dsn) for n in names)


def assert_exactly_once(dsn: str, upto: int | None = None) -> None:
    """Read models hold each MessagePosted event up to ``upto`` exactly once, no more."""
    upto = checkpoint(dsn, "messages") if upto is None else upto
    logged = [
        r["notification_id"]
        for r in rows(
            dsn,
            f"SELECT notification_id FROM {EVENTS_TABLE} WHERE topic = %s"  # noqa: S608
            " AND notification_id <= %s"
            " ORDER BY notification_id",
            (MESSAGE_TOPIC, upto),
        )
    ]
    projected = [
        r["position"] for r in rows(dsn, "SELECT position FROM rm.messages ORDER BY position")
    ]
    assert projected == logged
    counts = rows(
        dsn,
        "SELECT c.id, c.message_count, (SELECT count(*) FROM rm.messages m"
        " WHERE m.conversation_id = c.id) AS rows FROM rm.conversations c",
    )
    if checkpoint(dsn, "conversations") == upto:
        assert all(r["message_count"] == r["rows"] for r in counts)


@pytest.fixture
def scratch_container(scratch: Settings) -> Iterator[Container]:
    built = Container.build(scratch)
    yield built
    built.close()


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(settings, *args, timeout=120)


def backlog(container: Container, conversations: int, messages: int) -> None:
    """Many events quickly: each conversation and its messages saved in one transaction."""
    for _ in range(conversations):
        conversation = Conversation.start("bulk", "Bulk", [])
        for i in range(messages):
            conversation.post_message(uuid.uuid4(), "user", f"bulk message {i}", None, None)
        for event in conversation.pending_events:
            object.__setattr__(event, "metadata", {"tenant_id": "bulk"})
        container.store.app.save(conversation)


def test_sixteen_concurrent_writers_every_event_is_applied_exactly_once(
    scratch_container: Container,
) -> None:
    engine = scratch_container.projection_engine()
    engine.start()
    try:
        own = [scratch_container.conversations.start(ctx(), f"c{i}", []).id for i in range(16)]
        shared = scratch_container.conversations.start(ctx(), "shared", []).id

        def writer(w: int) -> None:
            for i in range(150):
                target = shared if i % 10 == 0 else own[w]
                scratch_container.conversations.post_message(
                    ctx(), target, role="user", content=f"{w}:{i}"
                )

        with ThreadPoolExecutor(16) as pool:
            list(pool.map(writer, range(16)))
        dsn = scratch_container.dsn
        wait_until(caught_up(dsn, "conversations", "messages"), 60, "projections to catch up")
    finally:
        engine.stop()
    assert scalar(dsn, "SELECT count(*) FROM rm.messages") == 16 * 150
    assert scalar(dsn, "SELECT sum(message_count) FROM rm.conversations") == 16 * 150
    assert_exactly_once(dsn)


def test_a_projector_killed_mid_batch_resumes_with_exact_counts(
    scratch: Settings, scratch_container: Container
) -> None:
    backlog(scratch_container, conversations=40, messages=500)
    dsn = scratch_container.dsn
    total = head(dsn)
    command, env = [CHRONICLE, "project"], cli_env(Settings(database_url=dsn))
    projector = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_until(lambda: 0 < checkpoint(dsn, "messages") < total, 60, "the projector to start")
        projector.send_signal(signal.SIGKILL)
        projector.wait(10)
    finally:
        projector.kill()
    crashed_at = checkpoint(dsn, "messages")
    assert crashed_at < total
    assert_exactly_once(dsn, crashed_at)
    again = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(caught_up(dsn, "conversations", "messages"), 120, "the restarted projector")
    finally:
        again.send_signal(signal.SIGTERM)
        again.wait(15)
    assert scalar(dsn, "SELECT count(*) FROM rm.messages WHERE tenant_id = 'bulk'") == 40 * 500
    assert scalar(dsn, "SELECT sum(message_count) FROM rm.conversations") == 40 * 500
    assert_exactly_once(dsn)


def test_lost_notifications_only_delay_thanks_to_polling(scratch_container: Container) -> None:
    engine = scratch_container.projection_engine(listen=False, poll_seconds=0.2)
    engine.start()
    try:
        result = scratch_container.conversations.start(ctx(), "Polled", [])
        wait_until(lambda: checkpoint(scratch_container.dsn, "conversations") >= result.position, 5)
    finally:
        engine.stop()


def test_a_dropped_connection_is_reconnected(scratch_container: Container) -> None:
    dsn = scratch_container.dsn
    engine = scratch_container.projection_engine(poll_seconds=60)
    engine.start()
    try:
        first = scratch_container.conversations.start(ctx(), "Before", [])
        wait_until(lambda: checkpoint(dsn, "conversations") >= first.position, 10)
        database = dsn.rsplit("/", 1)[1]
        with psycopg.connect(dsn, autocommit=True) as admin:
            killed = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid() AND query ILIKE 'LISTEN%%'",
                (database,),
            ).fetchone()
        assert killed is not None and killed[0] >= 1
        second = scratch_container.conversations.start(ctx(), "After", [])
        wait_until(lambda: checkpoint(dsn, "conversations") >= second.position, 15, "reconnection")
    finally:
        engine.stop()


def test_a_poison_event_stops_the_projection_until_skipped(
    scratch: Settings, scratch_container: Container
) -> None:
    dsn = scratch_container.dsn
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(
            "ALTER TABLE rm_messages_g1.messages ADD CONSTRAINT refuses CHECK (content <> 'poison')"
        )
    engine = scratch_container.projection_engine()
    engine.start()
    try:
        cid = scratch_container.conversations.start(ctx(), "Poisoned", []).id
        post = scratch_container.conversations.post_message
        before = post(ctx(), cid, role="user", content="before")
        poison = post(ctx(), cid, role="user", content="poison")
        after = post(ctx(), cid, role="user", content="after")
        wait_until(lambda: checkpoint(dsn, "conversations") >= after.position, 10)
        wait_until(
            lambda: (
                scalar(dsn, "SELECT state FROM chronicle_projections WHERE name='messages'")
                == "stopped"
            ),
            10,
        )
        assert checkpoint(dsn, "messages") == before.position
        status = json.loads(cli(scratch, "projections", "status", "--json").stdout)
        messages = next(s for s in status if s["name"] == "messages")
        assert messages["state"] == "stopped" and messages["error_position"] == poison.position
        assert "refuses" in messages["error"] and messages["lag"] >= 2
        assert {"name", "position", "head", "lag", "state"} <= set(messages)

        wrong = cli(scratch, "projections", "skip", "messages", str(after.position))
        assert wrong.returncode != 0 and wrong.stderr.strip().count("\n") == 0
        skipped = cli(scratch, "projections", "skip", "messages", str(poison.position))
        assert skipped.returncode == 0, skipped.stderr
        wait_until(lambda: checkpoint(dsn, "messages") >= after.position, 10, "the skip")
    finally:
        engine.stop()
    contents = [
        r["content"] for r in rows(dsn, "SELECT content FROM rm.messages ORDER BY position")
    ]
    assert contents == ["before", "after"]
    audit = scratch_container.store.get(ProjectionLog.create_id("messages"), ProjectionLog)
    assert audit.skipped == [poison.position]
    events = scratch_container.store.read_stream(audit.id, 1, 10)
    assert events[-1].type == "ProjectionEventSkipped" and events[-1].metadata["actor"].startswith(
        "cli:"
    )


def test_a_poison_event_inside_a_bulk_copy_is_found_exactly(
    scratch: Settings, scratch_container: Container
) -> None:
    """A backlog of plain inserts goes as one COPY; when one row is refused, the events
    before it are still applied and the projection stops at exactly that event."""
    dsn = scratch_container.dsn
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(
            "ALTER TABLE rm_messages_g1.messages ADD CONSTRAINT refuses CHECK (content <> 'poison')"
        )
    cid = scratch_container.conversations.start(ctx(), "Backlog", []).id
    post = scratch_container.conversations.post_message
    before = [post(ctx(), cid, role="user", content=f"m{i}") for i in range(40)]
    poison = post(ctx(), cid, role="user", content="poison")
    for i in range(10):
        post(ctx(), cid, role="user", content=f"after {i}")
    engine = scratch_container.projection_engine(["messages"])
    engine.start()
    try:
        wait_until(
            lambda: (
                scalar(
                    dsn, "SELECT error_position FROM chronicle_projections WHERE name='messages'"
                )
                == poison.position
            ),
            15,
        )
    finally:
        engine.stop()
    assert checkpoint(dsn, "messages") == before[-1].position
    contents = [
        r["content"] for r in rows(dsn, "SELECT content FROM rm.messages ORDER BY position")
    ]
    assert contents == [f"m{i}" for i in range(40)]


def test_a_rebuild_equals_the_live_model_while_reads_go_on(
    container: Container, projecting: None, api_url: str, issue_key: KeyFactory
) -> None:
    dsn = container.dsn
    token = issue_key()
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=api_url, headers=headers) as http:
        cid = http.post("/v1/conversations", json={"title": "Rebuilt"}).json()["id"]
        for i in range(40):  # more than a COPY's minimum run, so the rebuild copies
            last = http.post(
                f"/v1/conversations/{cid}/messages", json={"role": "user", "content": f"r{i}"}
            ).json()
    wait_until(caught_up(dsn, "conversations", "messages"), 30)
    tables = {
        "conversations": "SELECT * FROM rm.conversations ORDER BY id",
        "messages": "SELECT * FROM rm.messages ORDER BY message_id",
    }
    before = {name: rows(dsn, query) for name, query in tables.items()}
    generations = {
        r["name"]: r["generation"]
        for r in rows(dsn, "SELECT name, generation FROM chronicle_projections")
    }

    failures: list[str] = []
    answered = 0
    stop = threading.Event()

    def read_continuously() -> None:
        nonlocal answered
        with httpx.Client(base_url=api_url, headers=headers) as http:
            while not stop.is_set():
                for path in [
                    "/v1/conversations",
                    f"/v1/conversations/{cid}",
                    f"/v1/conversations/{cid}/messages",
                ]:
                    response = http.get(path)
                    answered += 1
                    if response.status_code != 200:
                        failures.append(f"{path}: {response.status_code} {response.text[:200]}")

    reader = threading.Thread(target=read_continuously)
    reader.start()
    try:
        with capture_logs() as logs:
            for name in tables:
                generation, position, _ = container.rebuild(name).run()
                assert generation == generations[name] + 1 and position >= last["position"]
    finally:
        stop.set()
        reader.join(30)
    assert [entry for entry in logs if entry["event"] == "copy refused"] == []
    assert failures == []
    assert answered > 0
    after = {name: rows(dsn, query) for name, query in tables.items()}
    assert after == before
    schemas = {
        r["nspname"]
        for r in rows(dsn, "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'rm\\_%%'")
        if r["nspname"].rsplit("_g", 1)[0][3:] in tables
    }
    assert schemas == {f"rm_{name}_g{generations[name] + 1}" for name in tables}
    with httpx.Client(base_url=api_url, headers=headers) as http:
        final = http.post(
            f"/v1/conversations/{cid}/messages", json={"role": "user", "content": "after rebuild"}
        ).json()
        seen = http.get(
            f"/v1/conversations/{cid}", params={"min_position": final["position"]}
        ).json()
        assert seen["message_count"] == 41


def test_rebuild_cli_shows_progress_and_records_an_audit_event(
    scratch: Settings, scratch_container: Container
) -> None:
    backlog(scratch_container, conversations=2, messages=50)
    result = cli(scratch, "projections", "rebuild", "messages")
    assert result.returncode == 0, result.stderr
    assert "rebuilt messages" in result.stdout and "events/s" in result.stdout
    assert scalar(scratch_container.dsn, "SELECT count(*) FROM rm.messages") == 100
    audit = scratch_container.store.get(ProjectionLog.create_id("messages"), ProjectionLog)
    assert audit.rebuilds == 1
    unknown = cli(scratch, "projections", "rebuild", "nope")
    assert unknown.returncode != 0 and "unknown projection" in unknown.stderr
