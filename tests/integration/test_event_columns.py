"""The log's tenant and type columns: migrated into a log written before them, filled by
every writer, and read by their index."""

from __future__ import annotations

import re
from typing import Any

import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from psycopg.rows import dict_row
from psycopg.sql import SQL, Composed

from api.bootstrap import Container
from application.context import CommandContext
from domain.conversation import Conversation
from domain.ids import new_id
from infrastructure.event_columns import TENANT_OF_STATE, TYPE_OF_TOPIC, EventColumns
from infrastructure.event_log import LogReader
from infrastructure.event_store import (
    APPLICATION_NAME,
    EVENTS_TABLE,
    PostgresEventStore,
    application_env,
)
from infrastructure.settings import Settings

TENANTS = ("acme", "globex", "initech")


class Yesterday(Application[Any]):
    """The log as the code before the columns wrote it: the library's own table, events
    encoded by Chronicle's transcoder with the metadata the commit seam stamps."""

    name = APPLICATION_NAME

    def write(self, context: CommandContext, aggregate: Aggregate) -> None:
        events = aggregate.collect_events()
        metadata: dict[str, Any] = context.metadata()
        metadata["occurred_at"] = events[0].timestamp.isoformat()
        for event in events:
            object.__setattr__(event, "metadata", metadata)
        self.recorder.insert_events([self.mapper.to_stored_event(e) for e in events])


def yesterdays_log(settings: Settings, conversations: int, messages: int) -> int:
    """Each tenant's conversations with their messages, as yesterday wrote them; how many
    events in all."""
    env = application_env(settings)
    del env["APPLICATION_RECORDER_TOPIC"]  # the library's recorder: the table as it was
    app = Yesterday(env=env)
    try:
        for tenant in TENANTS:
            context = CommandContext(tenant, "test", "conversations.post")
            for _ in range(conversations):
                conversation = Conversation.start(tenant, "Old", [])
                for i in range(messages):
                    conversation.post_message(new_id(), "user", f"m{i}", None, None)
                app.write(context, conversation)
    finally:
        app.close()
    return len(TENANTS) * conversations * (1 + messages)


def one(conn: psycopg.Connection[dict[str, Any]], query: str, *params: Any) -> Any:
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return next(iter(row.values()))


def columns_of(conn: psycopg.Connection[dict[str, Any]]) -> dict[str, bool]:
    """The tenant and type columns of the log, and whether each is NOT NULL."""
    rows = conn.execute(
        "SELECT attname, attnotnull FROM pg_attribute WHERE attrelid = %s::regclass"
        " AND attname IN ('tenant_id', 'type') AND NOT attisdropped",
        (EVENTS_TABLE,),
    ).fetchall()
    return {row["attname"]: row["attnotnull"] for row in rows}


def test_a_log_written_before_the_columns_gets_them_at_start_and_still_projects(
    scratch: Settings,
) -> None:
    assert scratch.database_url
    written = yesterdays_log(scratch, conversations=40, messages=99)
    with psycopg.connect(scratch.database_url, row_factory=dict_row, autocommit=True) as conn:
        assert columns_of(conn) == {}

        container = Container.build(scratch)  # the new start migrates it
        try:
            assert columns_of(conn) == {"tenant_id": True, "type": True}
            derived = (
                f"SELECT count(*) FROM {EVENTS_TABLE} WHERE tenant_id <> "  # noqa: S608
                + TENANT_OF_STATE.format(state="state")
                + " OR type <> "
                + TYPE_OF_TOPIC.format(topic="topic")
            )
            assert one(conn, derived) == 0
            per_tenant = conn.execute(
                f"SELECT tenant_id, count(*) AS n FROM {EVENTS_TABLE} GROUP BY tenant_id"  # noqa: S608
            ).fetchall()
            assert {row["tenant_id"]: row["n"] for row in per_tenant} == dict.fromkeys(
                TENANTS, written // len(TENANTS)
            )
            # Backfilled a range of positions per transaction, not in one.
            batches = one(conn, f"SELECT count(DISTINCT xmin::text) FROM {EVENTS_TABLE}")  # noqa: S608
            assert batches == -(-written // 5000)

            table = EventColumns("public", EVENTS_TABLE)
            with psycopg.connect(scratch.database_url, row_factory=dict_row) as again:
                assert table.found(again).done
                assert table.migrate(again) == 0  # the next start finds it done

            first = one(conn, f"SELECT originator_id FROM {EVENTS_TABLE} LIMIT 1")  # noqa: S608
            stream = container.store.read_stream(first, 1, 3)
            owner = one(
                conn,
                f"SELECT tenant_id FROM {EVENTS_TABLE} WHERE originator_id = %s LIMIT 1",  # noqa: S608
                first,
            )
            assert {event.tenant_id for event in stream} == {owner}

            context = CommandContext("acme", "t", "t")
            started = container.portal.call(container.conversations.start, context, "New", [])
            row = conn.execute(
                f"SELECT tenant_id, type FROM {EVENTS_TABLE} WHERE notification_id = %s",  # noqa: S608
                (started.position,),
            ).fetchone()
            assert row == {"tenant_id": "acme", "type": "ConversationStarted"}

            assert container.projector("messages").catch_up() == started.position
            messages = conn.execute(
                "SELECT tenant_id, count(*) AS n FROM rm.messages GROUP BY tenant_id"
            ).fetchall()
            assert {row["tenant_id"]: row["n"] for row in messages} == dict.fromkeys(
                TENANTS, 40 * 99
            )
        finally:
            container.close()


def test_a_writer_that_gives_no_columns_has_them_filled(scratch: Settings) -> None:
    """The library's own insert (as the append function of the last release) names no
    tenant or type: the row takes them from the event's metadata and topic."""
    store = PostgresEventStore(scratch)
    try:
        stamped = Conversation.start("acme", "Stamped", [])
        Yesterday.write(store.app, CommandContext("acme", "t", "t"), stamped)  # type: ignore[arg-type]
        bare = Conversation.start("acme", "Bare", [])
        store.app.save(bare)  # no metadata at all
        with store.recorder.datastore.get_connection() as conn:
            rows = conn.execute(
                f"SELECT originator_id, tenant_id, type FROM {EVENTS_TABLE}"  # noqa: S608
            ).fetchall()
    finally:
        store.close()
    assert {(r["originator_id"], r["tenant_id"], r["type"]) for r in rows} == {
        (stamped.id, "acme", "ConversationStarted"),
        (bare.id, "", "ConversationStarted"),
    }


def numbered(query: Composed, conn: psycopg.Connection[Any]) -> str:
    """The statement with $1, $2… for its named parameters, as EXPLAIN (GENERIC_PLAN)
    takes it."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match[1] not in names:
            names.append(match[1])
        return f"${names.index(match[1]) + 1}"

    return re.sub(r"%\((\w+)\)s", number, query.as_string(conn))


def test_a_tenants_stream_after_a_position_is_read_by_its_index(scratch: Settings) -> None:
    """A live client's resume reads one tenant's events after a position: by the index on
    (tenant_id, notification_id), not a scan of every tenant's."""
    assert scratch.database_url
    store = PostgresEventStore(scratch)
    store.close()
    with psycopg.connect(scratch.database_url, row_factory=dict_row, autocommit=True) as conn:
        conn.execute(
            f"INSERT INTO {EVENTS_TABLE} (originator_id, originator_version, topic, state,"  # noqa: S608
            " tenant_id, type) SELECT gen_random_uuid(), 1,"
            " 'domain.conversation:Conversation.ConversationStarted', '{}'::bytea,"
            " 't' || (i % 100), 'ConversationStarted' FROM generate_series(1, 100000) i"
        )
        # Analysed and with sequential scans allowed: the planner picks the index itself.
        conn.execute(f"ANALYZE {EVENTS_TABLE}")
        query = LogReader().statement(tenant=True)  # the statement every follower runs
        after = {"after": 10_000, "tenant": "t7", "limit": 500}
        plans = {
            "custom": conn.execute(SQL("EXPLAIN ") + query, after).fetchall(),
            "generic": conn.execute(f"EXPLAIN (GENERIC_PLAN) {numbered(query, conn)}").fetchall(),
        }
    for kind, rows in plans.items():
        plan = "\n".join(row["QUERY PLAN"] for row in rows)
        print(f"{kind} plan of a tenant's events after a position:\n{plan}")
        # An index scan, or a bitmap of the few rows a small tenant has.
        assert f"Index Scan using {EVENTS_TABLE}_tenant_position" in plan or (
            f"Bitmap Index Scan on {EVENTS_TABLE}_tenant_position" in plan
        ), plan
        assert "Seq Scan" not in plan and "Filter" not in plan, plan  # no other tenant's rows


def test_the_log_reads_one_tenants_events_in_order(scratch: Settings) -> None:
    assert scratch.database_url
    container = Container.build(scratch)
    try:
        positions: dict[str, list[int]] = {tenant: [] for tenant in TENANTS}
        for i in range(9):
            tenant = TENANTS[i % 3]
            context = CommandContext(tenant, "t", "t")
            started = container.portal.call(container.conversations.start, context, f"c{i}", [])
            positions[tenant].append(started.position)
        after = positions["globex"][0]
        page = container.events.after(after, 500, "globex")
        assert [e.position for e in page] == positions["globex"][1:]
        assert {e.tenant_id for e in page} == {"globex"}
        typed = container.events.after(0, 500, "acme", "ConversationStarted")
        assert [e.position for e in typed] == positions["acme"]
    finally:
        container.close()
