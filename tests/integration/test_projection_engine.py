"""The projection engine on real PostgreSQL: never skips, applies once, survives crashes,
rebuilds beside the live copy, and finds a poison event in a bulk copy exactly (parking:
``test_parking.py``).
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.rows import dict_row
from structlog.testing import capture_logs

from api.bootstrap import Container
from application.context import CommandContext
from application.ports import Change
from domain.conversation import Conversation
from domain.projection_log import ProjectionLog
from domain.task import Task
from infrastructure.event_store import EVENTS_TABLE, PostgresEventStore
from infrastructure.projector import Projector
from infrastructure.read_models import ensure_projections
from infrastructure.settings import Settings
from projections.message_search import MessageSearchProjection, search_messages
from projections.messages import MessagesProjection, message_history
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


def backlog(store: PostgresEventStore, conversations: int, messages: int) -> None:
    """Many events quickly: each conversation and its messages saved in one transaction."""
    for _ in range(conversations):
        conversation = Conversation.start("bulk", "Bulk", [])
        for i in range(messages):
            conversation.post_message(uuid.uuid4(), "user", f"bulk message {i}", None, None)
        for event in conversation.pending_events:
            object.__setattr__(event, "metadata", {"tenant_id": "bulk"})
        store.app.save(conversation)


async def test_sixteen_concurrent_writers_every_event_is_applied_exactly_once(
    scratch_container: Container,
) -> None:
    engine = scratch_container.projection_engine()
    engine.start()
    try:
        own = [
            (await scratch_container.conversations.start(ctx(), f"c{i}", [])).id for i in range(16)
        ]
        shared = (await scratch_container.conversations.start(ctx(), "shared", [])).id

        async def writer(w: int) -> None:
            for i in range(150):
                target = shared if i % 10 == 0 else own[w]
                await scratch_container.conversations.post_message(
                    ctx(), target, role="user", content=f"{w}:{i}"
                )

        await asyncio.gather(*(writer(w) for w in range(16)))
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
    backlog(scratch_container.store, conversations=40, messages=500)
    dsn = scratch_container.dsn
    total = head(dsn)
    command, env = [CHRONICLE, "project"], cli_env(scratch)
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


async def test_lost_notifications_only_delay_thanks_to_polling(
    scratch_container: Container,
) -> None:
    engine = scratch_container.projection_engine(listen=False, poll_seconds=0.2)
    engine.start()
    try:
        result = await scratch_container.conversations.start(ctx(), "Polled", [])
        wait_until(lambda: checkpoint(scratch_container.dsn, "conversations") >= result.position, 5)
    finally:
        engine.stop()


async def test_a_dropped_connection_is_reconnected(scratch_container: Container) -> None:
    dsn = scratch_container.dsn
    engine = scratch_container.projection_engine(poll_seconds=60)
    engine.start()
    try:
        first = await scratch_container.conversations.start(ctx(), "Before", [])
        wait_until(lambda: checkpoint(dsn, "conversations") >= first.position, 10)
        database = dsn.rsplit("/", 1)[1]
        with psycopg.connect(dsn, autocommit=True) as admin:
            killed = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid() AND query ILIKE 'LISTEN%%'",
                (database,),
            ).fetchone()
        assert killed is not None and killed[0] >= 1
        second = await scratch_container.conversations.start(ctx(), "After", [])
        wait_until(lambda: checkpoint(dsn, "conversations") >= second.position, 15, "reconnection")
    finally:
        engine.stop()


async def test_a_poison_event_inside_a_bulk_copy_is_found_exactly(
    scratch_container: Container,
) -> None:
    """A backlog of plain inserts goes as one COPY; when one row is refused, the events
    before it are still applied, and exactly that event is parked, with the later events
    of its conversation behind it."""
    dsn = scratch_container.dsn
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(
            "ALTER TABLE rm_messages_g1.messages ADD CONSTRAINT refuses CHECK (content <> 'poison')"
        )
    cid = (await scratch_container.conversations.start(ctx(), "Backlog", [])).id
    post = scratch_container.conversations.post_message
    for i in range(40):
        await post(ctx(), cid, role="user", content=f"m{i}")
    poison = await post(ctx(), cid, role="user", content="poison")
    after = [await post(ctx(), cid, role="user", content=f"after {i}") for i in range(10)]
    assert scratch_container.projector("messages").catch_up() == head(dsn)
    contents = [
        r["content"] for r in rows(dsn, "SELECT content FROM rm.messages ORDER BY position")
    ]
    assert contents == [f"m{i}" for i in range(40)]
    parked = rows(
        dsn,
        "SELECT position, error_class FROM chronicle_parked WHERE name = 'messages'"
        " ORDER BY position",
    )
    assert [(r["position"], r["error_class"]) for r in parked] == [
        (poison.position, "CheckViolation"),
        *[(a.position, None) for a in after],
    ]


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
    wait_until(caught_up(dsn, "conversations", "messages", "message_search"), 30)
    tables = {
        "conversations": "SELECT * FROM rm.conversations ORDER BY id",
        "messages": "SELECT * FROM rm.messages ORDER BY message_id",
        "message_search": "SELECT * FROM rm.message_search ORDER BY message_id",
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
                    "/v1/search/messages?q=r1",
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
    backlog(scratch_container.store, conversations=2, messages=50)
    result = cli(scratch, "projections", "rebuild", "messages")
    assert result.returncode == 0, result.stderr
    assert "rebuilt messages" in result.stdout and "events/s" in result.stdout
    assert scalar(scratch_container.dsn, "SELECT count(*) FROM rm.messages") == 100
    audit = scratch_container.store.get(ProjectionLog.create_id("messages"), ProjectionLog)
    assert audit.rebuilds == 1
    unknown = cli(scratch, "projections", "rebuild", "nope")
    assert unknown.returncode != 0 and "unknown projection" in unknown.stderr


def live_table(dsn: str, name: str) -> tuple[dict[str, str], list[str]]:
    """The columns (and their types) and the index definitions of a projection's table
    (named as the projection) in its live generation."""
    generation = scalar(
        dsn, "SELECT generation FROM chronicle_projections WHERE name = %s", (name,)
    )
    schema = f"rm_{name}_g{generation}"
    columns = rows(
        dsn,
        "SELECT column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = %s AND table_name = %s",
        (schema, name),
    )
    indexes = rows(
        dsn,
        "SELECT indexdef FROM pg_indexes WHERE schemaname = %s AND tablename = %s",
        (schema, name),
    )
    return {c["column_name"]: c["data_type"] for c in columns}, [i["indexdef"] for i in indexes]


def test_the_history_has_no_tsvector_and_search_has_its_own(container: Container) -> None:
    history, history_indexes = live_table(container.dsn, "messages")
    assert "tsvector" not in history.values() and "search" not in history
    assert not any("gin" in index for index in history_indexes)
    assert len(history_indexes) == 2  # message_id (unique), (conversation_id, position)
    view = rows(
        container.dsn,
        "SELECT data_type FROM information_schema.columns"
        " WHERE table_schema = 'rm' AND table_name = 'messages'",
    )
    assert view and "tsvector" not in {c["data_type"] for c in view}
    search, search_indexes = live_table(container.dsn, "message_search")
    assert search["search"] == "tsvector"
    assert set(history) <= set(search)
    assert any("USING gin (search)" in index for index in search_indexes)


def bulk_search(container: Container, query: str) -> tuple[list[str | None], int]:
    """The contents of tenant bulk's messages matching ``query``, and the read position."""
    (hits, _), position = container.reads.query(
        ("message_search",), lambda conn: search_messages(conn, "bulk", query, 0, 500)
    )
    return [hit.message.content for hit in hits], position


def test_message_search_is_rebuilt_by_the_cli_and_answers_searches(
    scratch: Settings, scratch_container: Container
) -> None:
    dsn = scratch_container.dsn
    backlog(scratch_container.store, conversations=2, messages=50)
    backlogged = head(dsn)
    result = cli(scratch, "projections", "rebuild", "message_search")
    assert result.returncode == 0, result.stderr
    assert "rebuilt message_search" in result.stdout
    generation = "SELECT generation FROM chronicle_projections WHERE name = %s"
    assert scalar(dsn, generation, ("message_search",)) == 2
    assert scalar(dsn, generation, ("messages",)) == 1  # untouched: nothing projected it
    assert scalar(dsn, "SELECT count(*) FROM rm.message_search") == 100
    assert scalar(dsn, "SELECT count(*) FROM rm.messages") == 0
    _, indexes = live_table(dsn, "message_search")
    assert any("USING gin (search)" in index for index in indexes)  # built after the load
    found, position = bulk_search(scratch_container, '"message 7"')
    assert found == ["bulk message 7", "bulk message 7"] and position >= backlogged
    assert len(bulk_search(scratch_container, "bulk")[0]) == 100


class MessagesBeforeTheSplit(MessagesProjection):
    """The messages projection as it was when it also served search (same name, and the
    search column and GIN index message_search now has)."""

    extra_columns = MessageSearchProjection.extra_columns
    indexes = MessagesProjection.indexes + MessageSearchProjection.indexes


def test_an_existing_database_keeps_its_messages_and_fills_message_search(
    scratch: Settings,
) -> None:
    """The engine does not notice a projection's DDL changed: a database set up before the
    split keeps its messages generation (with the search column, harmless) until a
    rebuild, and message_search, new to it, starts at generation 1 from position 0."""
    dsn = scratch.database_url
    assert dsn
    older = MessagesBeforeTheSplit()
    store = PostgresEventStore(scratch)
    try:
        ensure_projections(dsn, [older])
        backlog(store, conversations=2, messages=50)
        assert Projector(dsn, older, store.decode_values).catch_up() == head(dsn)
    finally:
        store.close()
    assert live_table(dsn, "messages")[0]["search"] == "tsvector"

    upgraded = Container.build(scratch)  # what a process of the new version does first
    try:
        assert checkpoint(dsn, "message_search") == 0
        backlog(upgraded.store, conversations=1, messages=50)  # written after the upgrade
        with capture_logs() as logs:  # runs of 50 inserts: COPY, into the old table too
            for name in ("messages", "message_search"):
                assert upgraded.projector(name).catch_up() == head(dsn)
        assert [entry for entry in logs if entry["event"] == "copy refused"] == []
        assert live_table(dsn, "messages")[0]["search"] == "tsvector"  # the old generation
        assert scalar(dsn, "SELECT count(*) FROM rm.messages") == 150
        assert scalar(dsn, "SELECT count(*) FROM rm.message_search") == 150
        assert len(bulk_search(upgraded, '"message 7"')[0]) == 3
        newest = scalar(dsn, "SELECT conversation_id FROM rm.messages ORDER BY position DESC")
        (history, _), _ = upgraded.reads.query(
            ("messages",), lambda conn: message_history(conn, "bulk", newest, None, 100)
        )
        assert [m.content for m in history] == [f"bulk message {i}" for i in range(50)]

        generation, position, _ = upgraded.rebuild("messages").run()
        assert generation == 2 and position == head(dsn)
        columns, indexes = live_table(dsn, "messages")
        assert "search" not in columns and not any("gin" in index for index in indexes)
        assert scalar(dsn, "SELECT count(*) FROM rm.messages") == 150
    finally:
        upgraded.close()


def test_json_columns_keep_their_json_when_a_long_run_of_inserts_goes_by_copy(
    scratch_container: Container,
) -> None:
    """Tasks submitted together make runs of inserts long enough for COPY, live and in a
    rebuild; their payloads stay objects, as single inserts store them."""
    payloads: list[Any] = [{"n": i, "tags": ["a", "b"]} for i in range(60)]
    tasks = [Task.submit("acme", "t", p, 0, 3, 30.0, datetime.now(UTC), 1.0) for p in payloads]
    commit = scratch_container.store.commit
    scratch_container.portal.call(commit, ctx(), Change(tuple(tasks), tasks[-1]))
    payloads.append("a JSON string")  # alone: a statement, not a COPY
    single = Task.submit("acme", "t", payloads[-1], 0, 3, 30.0, datetime.now(UTC), 1.0)
    scratch_container.portal.call(commit, ctx(), Change((single,), single))
    query = "SELECT payload FROM rm.tasks ORDER BY submitted_position"
    projector = scratch_container.projector("tasks")
    assert projector.catch_up() == head(scratch_container.dsn)
    assert [r["payload"] for r in rows(scratch_container.dsn, query)] == payloads
    scratch_container.rebuild("tasks").run()
    assert [r["payload"] for r in rows(scratch_container.dsn, query)] == payloads
