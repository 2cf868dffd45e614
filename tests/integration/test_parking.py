"""Parked events on real PostgreSQL: a projection that cannot apply an event parks it with
the later events of its aggregate and goes on with every other aggregate and tenant;
operators list, retry and skip what is parked; rebuilds park the same way.

Poison events are written straight through the store, past the checks the API makes, as
whatever validation misses would be.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from eventsourcing.domain import Aggregate
from structlog.testing import capture_logs

from api.bootstrap import Container
from application.context import CommandContext
from application.ports import Change, CommandResult
from domain.agent_run import AgentRun
from domain.conversation import Conversation
from domain.ids import new_id
from domain.projection_log import ProjectionLog
from domain.task import Task
from infrastructure.projector import Projector
from infrastructure.read_models import ensure_projections
from infrastructure.repairs import retry_parked
from infrastructure.settings import Settings
from projections.base import Statement
from projections.events import Event, MessagePosted
from projections.messages import MessagesProjection
from tests.integration.cli import run_cli
from tests.integration.test_projection_engine import (
    caught_up,
    checkpoint,
    head,
    rows,
    scalar,
    wait_until,
)

INT4_OVERFLOW = 2**31
INT8_OVERFLOW = 2**63


@pytest.fixture
def scratch_container(scratch: Settings) -> Iterator[Container]:
    built = Container.build(scratch)
    yield built
    built.close()


def commit(container: Container, tenant: str, *aggregates: Aggregate) -> CommandResult:
    context = CommandContext(tenant_id=tenant, actor="test", command="test")
    return container.portal.call(
        container.store.commit, context, Change(aggregates, aggregates[-1])
    )


def conversation(container: Container, tenant: str) -> Conversation:
    started = Conversation.start(tenant, "Parked", [])
    commit(container, tenant, started)
    return started


def post(container: Container, chat: Conversation, content: str, tokens: int | None = None) -> int:
    """Post a message without the domain's checks; the event's position."""
    chat._message_posted(new_id(), "user", "user", content, tokens, "text/plain")
    return commit(container, chat.tenant_id, chat).position


def complete_run(
    container: Container, tenant: str, chat: Conversation, usage: dict[str, float]
) -> int:
    """Start and complete a run, posting its answer as the use case does, without checks."""
    run = AgentRun.begin(tenant, chat.id, "agent", "model", None)
    commit(container, tenant, run)
    message_id = new_id()
    tokens = int(usage.get("output_tokens", 0)) or None
    chat._message_posted(message_id, "agent", "assistant", "done", tokens, "text/plain")
    run._completed(message_id, usage)
    return commit(container, tenant, chat, run).position


def submit_task(container: Container, tenant: str, payload: Any) -> int:
    task = Task(tenant, "t", payload, 0, 3, 30.0, datetime.now(UTC), 1.0)
    return commit(container, tenant, task).position


def catch_up(container: Container, *names: str) -> None:
    for name in names or container.projections:
        assert container.projector(name).catch_up() == head(container.dsn), name


def parked(dsn: str, name: str) -> list[dict[str, Any]]:
    return rows(
        dsn,
        "SELECT position, aggregate_id, tenant_id, error_class, error FROM chronicle_parked"
        " WHERE name = %s ORDER BY position",
        (name,),
    )


def parked_positions(dsn: str, name: str) -> list[int]:
    return [row["position"] for row in parked(dsn, name)]


def contents(dsn: str, tenant: str | None = None) -> list[str]:
    return [
        row["content"]
        for row in rows(
            dsn,
            "SELECT content FROM rm.messages WHERE %s::text IS NULL OR tenant_id = %s"
            " ORDER BY position",
            (tenant, tenant),
        )
    ]


def refuse_content(dsn: str, content: str) -> None:
    """A 'bug' in the live messages table: it refuses one content."""
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(
            "ALTER TABLE rm_messages_g1.messages ADD CONSTRAINT refuses"
            f" CHECK (content <> '{content}')"
        )


def accept_content(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute("ALTER TABLE rm_messages_g1.messages DROP CONSTRAINT refuses")


def assert_projected_once(dsn: str) -> None:
    """Every MessagePosted event is in rm.messages exactly once or parked, not both."""
    logged = {
        r["notification_id"]
        for r in rows(
            dsn,
            "SELECT notification_id FROM chronicle_events WHERE topic LIKE '%%.MessagePosted'",
        )
    }
    projected = [r["position"] for r in rows(dsn, "SELECT position FROM rm.messages")]
    aside = parked_positions(dsn, "messages")
    assert len(projected) == len(set(projected))
    assert set(projected).isdisjoint(aside)
    assert set(projected) | set(aside) == logged


def test_a_refused_event_parks_its_aggregate_and_the_projection_goes_on(
    scratch_container: Container,
) -> None:
    c, dsn = scratch_container, scratch_container.dsn
    refuse_content(dsn, "poison")
    ours, theirs = conversation(c, "acme"), conversation(c, "other")
    post(c, ours, "before")
    poison = post(c, ours, "poison")
    after = post(c, ours, "after")
    post(c, theirs, "their first")
    later = post(c, ours, "later")
    post(c, theirs, "their second")

    catch_up(c, "messages", "conversations")
    assert checkpoint(dsn, "messages") == head(dsn)
    assert contents(dsn) == ["before", "their first", "their second"]
    queue = parked(dsn, "messages")
    assert [(p["position"], p["aggregate_id"], p["tenant_id"]) for p in queue] == [
        (poison, ours.id, "acme"),
        (after, ours.id, "acme"),
        (later, ours.id, "acme"),
    ]
    assert queue[0]["error_class"] == "CheckViolation" and "refuses" in queue[0]["error"]
    assert [(p["error_class"], p["error"]) for p in queue[1:]] == [(None, None)] * 2
    assert scalar(dsn, "SELECT message_count FROM rm.conversations WHERE id = %s", (ours.id,)) == 4

    newest = post(c, ours, "newest")  # parked behind the others, by a later batch
    catch_up(c, "messages")
    assert parked_positions(dsn, "messages") == [poison, after, later, newest]

    accept_content(dsn)
    retried = retry_parked(dsn, c.projections["messages"], c.store.decode_values)
    assert (retried.applied, retried.still_parked) == ([poison, after, later, newest], [])
    assert contents(dsn, "acme") == ["before", "poison", "after", "later", "newest"]
    assert parked(dsn, "messages") == []
    again = retry_parked(dsn, c.projections["messages"], c.store.decode_values)
    assert (again.applied, again.still_parked) == ([], [])
    assert_projected_once(dsn)


def test_an_event_that_does_not_fit_its_typed_event_is_parked_under_its_tenant(
    scratch_container: Container,
) -> None:
    """A stored state its typed event cannot hold (as a field renamed in the domain without
    an upcast would leave) is parked by every projection that reads it, with the later
    events of its aggregate; the rest goes on."""
    c, dsn = scratch_container, scratch_container.dsn
    ours, theirs = conversation(c, "acme"), conversation(c, "other")
    post(c, ours, "before")
    number: Any = 12345  # a content that is not text
    misfit = post(c, ours, number)
    after = post(c, ours, "after")
    post(c, theirs, "theirs")
    catch_up(c, "messages", "conversations")

    for name in ("messages", "conversations"):
        queue = parked(dsn, name)
        assert [(p["position"], p["tenant_id"], p["error_class"]) for p in queue] == [
            (misfit, "acme", "UnexpectedShape"),
            (after, "acme", None),
        ], name
        assert "MessagePosted" in queue[0]["error"] and "content" in queue[0]["error"]
    assert contents(dsn) == ["before", "theirs"]
    assert scalar(dsn, "SELECT message_count FROM rm.conversations WHERE id = %s", (ours.id,)) == 1


class Fragile(MessagesProjection):
    """A projection with a bug in its code: it cannot prepare messages saying "boom"."""

    name = "fragile"
    tables: tuple[str, ...] = ("fragile",)
    indexes: tuple[str, ...] = ()
    broken = True

    def apply(self, event: Event) -> Iterable[Statement]:
        content = event.content if isinstance(event, MessagePosted) else None
        if self.broken and content is not None and content.startswith("boom"):
            raise ValueError("cannot take a boom")
        return super().apply(event)


def fragile_rows(dsn: str) -> list[str]:
    return [r["content"] for r in rows(dsn, "SELECT content FROM rm.fragile ORDER BY position")]


def test_an_event_that_cannot_be_prepared_is_parked_at_its_position_until_fixed(
    scratch_container: Container,
) -> None:
    """In a run of inserts long enough for COPY, the failing event is found exactly; a
    retry before the fix keeps everything parked with the new error; after it, in order."""
    c, dsn = scratch_container, scratch_container.dsn
    fragile = Fragile()
    ensure_projections(dsn, [fragile])
    projector = Projector(dsn, fragile, c.store.decode_values)
    ours, theirs = conversation(c, "acme"), conversation(c, "other")
    for i in range(40):
        post(c, ours, f"boom {i}" if i == 10 else f"ours {i}")
        post(c, theirs, f"theirs {i}")
    assert projector.catch_up() == head(dsn)

    queue = parked(dsn, "fragile")
    assert len(queue) == 30 and {p["aggregate_id"] for p in queue} == {ours.id}
    assert (queue[0]["error_class"], queue[0]["error"]) == ("ValueError", "cannot take a boom")
    applied = fragile_rows(dsn)
    assert [m for m in applied if m.startswith("theirs")] == [f"theirs {i}" for i in range(40)]
    assert [m for m in applied if not m.startswith("theirs")] == [f"ours {i}" for i in range(10)]

    still_broken = retry_parked(dsn, fragile, c.store.decode_values, ours.id)
    assert still_broken.applied == [] and len(still_broken.still_parked) == 30
    assert parked(dsn, "fragile")[0]["error_class"] == "ValueError"

    fragile.broken = False
    fixed = retry_parked(dsn, fragile, c.store.decode_values, ours.id)
    assert fixed.applied == [p["position"] for p in queue] and fixed.still_parked == []
    assert [m for m in fragile_rows(dsn) if not m.startswith("theirs")] == (
        [f"ours {i}" for i in range(10)] + ["boom 10"] + [f"ours {i}" for i in range(11, 40)]
    )
    assert parked(dsn, "fragile") == []


def test_a_retry_that_fails_again_keeps_the_aggregate_parked_behind_it(
    scratch_container: Container,
) -> None:
    c, dsn = scratch_container, scratch_container.dsn
    refuse_content(dsn, "poison")
    chat = conversation(c, "acme")
    first = post(c, chat, "poison")
    second = post(c, chat, "fine")
    catch_up(c, "messages")
    retried = retry_parked(dsn, c.projections["messages"], c.store.decode_values)
    assert (retried.applied, retried.still_parked) == ([], [first, second])
    queue = parked(dsn, "messages")
    assert queue[0]["error_class"] == "CheckViolation" and queue[1]["error"] is None
    assert contents(dsn) == []


def others_advance(container: Container, may_park: set[str]) -> None:
    """Another tenant's conversation, message, run and task still reach every read model,
    every checkpoint reaches the head, and only ``may_park`` have parked events."""
    other = f"other-{uuid.uuid4().hex[:6]}"
    chat = conversation(container, other)
    post(container, chat, "still here", 5)
    complete_run(container, other, chat, {"input_tokens": 3, "output_tokens": 4})
    submit_task(container, other, {"k": "v"})
    catch_up(container)
    dsn = container.dsn
    assert contents(dsn, other) == ["still here", "done"]
    for table in ("conversations", "message_search", "runs", "usage", "tasks"):
        count = scalar(dsn, f"SELECT count(*) FROM rm.{table} WHERE tenant_id = %s", (other,))  # noqa: S608
        assert count >= 1, table
    with_parked = {r["name"] for r in rows(dsn, "SELECT DISTINCT name FROM chronicle_parked")}
    assert with_parked <= may_park


def applied_or_parked(dsn: str, name: str, position: int) -> str:
    """Where the event at ``position`` went in a projection of messages: exactly one of
    its rows or its queue. (Widened columns would take what a narrow one refuses.)"""
    applied = scalar(dsn, f"SELECT count(*) FROM rm.{name} WHERE position = %s", (position,))  # noqa: S608
    aside = parked_positions(dsn, name).count(position)
    assert applied + aside == 1, (name, applied, aside)
    return "parked" if aside else "applied"


def test_tokens_beyond_bigint_park_the_message_not_the_read_model(
    scratch_container: Container,
) -> None:
    c = scratch_container
    chat = conversation(c, "acme")
    poison = post(c, chat, "huge", INT8_OVERFLOW)
    others_advance(c, {"messages", "message_search"})
    for name in ("messages", "message_search"):
        assert applied_or_parked(c.dsn, name, poison) == "parked"


def test_run_output_tokens_beyond_int4_park_the_answer_not_the_read_model(
    scratch_container: Container,
) -> None:
    c = scratch_container
    chat = conversation(c, "acme")
    completed = complete_run(c, "acme", chat, {"input_tokens": 1, "output_tokens": INT4_OVERFLOW})
    others_advance(c, {"messages", "message_search"})
    answer = completed - 1  # the message, committed with the run's completion
    for name in ("messages", "message_search"):  # parked by an integer column, kept by a bigint
        applied_or_parked(c.dsn, name, answer)
    runs = "SELECT output_tokens FROM rm.runs WHERE tenant_id = 'acme'"
    assert scalar(c.dsn, runs) == INT4_OVERFLOW  # bigint there


def test_a_task_payload_with_nul_parks_the_task_not_the_read_model(
    scratch_container: Container,
) -> None:
    c = scratch_container
    poison = submit_task(c, "acme", {"k": "a\u0000b"})
    others_advance(c, {"tasks"})
    assert parked_positions(c.dsn, "tasks") == [poison]


def test_a_usage_sum_beyond_bigint_parks_the_run_not_the_read_model(
    scratch_container: Container,
) -> None:
    c = scratch_container
    chat = conversation(c, "acme")
    usage: dict[str, float] = {"input_tokens": 4611686018427387904, "output_tokens": 0}
    complete_run(c, "acme", chat, usage)
    overflowing = complete_run(c, "acme", chat, usage)
    others_advance(c, {"usage"})
    queue = parked(c.dsn, "usage")
    total = "SELECT sum(input_tokens) FROM rm.usage WHERE tenant_id = 'acme'"
    if queue:  # a bigint sum: the second run is parked, the first counted
        assert [(p["position"], p["tenant_id"]) for p in queue] == [(overflowing, "acme")]
        assert scalar(c.dsn, total) == 2**62
    else:  # a numeric sum holds both
        assert scalar(c.dsn, total) == 2**63


def test_a_rebuild_parks_into_its_generation_and_drops_the_old_ones(
    scratch_container: Container,
) -> None:
    c, dsn = scratch_container, scratch_container.dsn
    ours, theirs = conversation(c, "acme"), conversation(c, "other")
    for i in range(60):  # long runs, so the rebuild sends them by COPY
        post(c, ours, f"ours {i}", INT8_OVERFLOW if i == 30 else None)
        post(c, theirs, f"theirs {i}")
    catch_up(c, "messages")
    live = parked_positions(dsn, "messages")
    assert len(live) == 30

    rebuild = c.rebuild("messages")
    generation, position, _ = rebuild.run()
    assert generation == 2 and position == head(dsn) and rebuild.parked_events == 30
    queue = rows(dsn, "SELECT generation, position FROM chronicle_parked WHERE name = 'messages'")
    assert {r["generation"] for r in queue} == {2}
    assert sorted(r["position"] for r in queue) == live
    assert contents(dsn, "other") == [f"theirs {i}" for i in range(60)]
    assert contents(dsn, "acme") == [f"ours {i}" for i in range(30)]
    assert_projected_once(dsn)


def test_two_projectors_never_apply_an_event_twice_around_parked_ones(
    scratch_container: Container,
) -> None:
    c, dsn = scratch_container, scratch_container.dsn
    chats = [conversation(c, f"t{i % 3}") for i in range(12)]
    poisons = []
    for round_ in range(40):
        for i, chat in enumerate(chats):
            poisoned = i % 4 == 0 and round_ == 5 + i
            position = post(c, chat, f"{i}:{round_}", INT8_OVERFLOW if poisoned else None)
            if poisoned:
                poisons.append(position)
    engines = [c.projection_engine(["messages"], batch_size=37) for _ in range(2)]
    go = threading.Barrier(2)

    def start(engine: Any) -> None:
        go.wait()
        engine.start()

    starters = [threading.Thread(target=start, args=(e,)) for e in engines]
    for thread in starters:
        thread.start()
    for thread in starters:
        thread.join()
    try:
        wait_until(caught_up(dsn, "messages"), 60, "the projectors to catch up")
    finally:
        for engine in engines:
            engine.stop()
    assert_projected_once(dsn)
    causes = [p["position"] for p in parked(dsn, "messages") if p["error_class"]]
    assert causes == poisons
    assert len(parked(dsn, "messages")) == sum(40 - (5 + i) for i in (0, 4, 8))


def test_operators_list_retry_and_skip_parked_events_with_the_cli(
    scratch: Settings, scratch_container: Container
) -> None:
    c, dsn = scratch_container, scratch_container.dsn
    refuse_content(dsn, "poison")
    ours, theirs = conversation(c, "acme"), conversation(c, "other")
    poison = post(c, ours, "poison")
    after = post(c, ours, "after")
    post(c, theirs, "theirs")
    catch_up(c, "messages")

    listed = run_cli(scratch, "projections", "parked", "--json")
    assert listed.returncode == 0, listed.stderr
    entries = json.loads(listed.stdout)
    assert [(e["name"], e["position"], e["tenant_id"], e["aggregate_id"]) for e in entries] == [
        ("messages", poison, "acme", str(ours.id)),
        ("messages", after, "acme", str(ours.id)),
    ]
    assert entries[0]["error_class"] == "CheckViolation" and entries[0]["type"] == "MessagePosted"
    assert entries[1]["error_class"] is None
    table = run_cli(scratch, "projections", "parked", "messages")
    assert table.returncode == 0 and "CheckViolation" in table.stdout
    assert "nothing is parked" in run_cli(scratch, "projections", "parked", "tasks").stdout
    status = json.loads(run_cli(scratch, "projections", "status", "--json").stdout)
    assert {s["name"]: s["parked"] for s in status}["messages"] == 2

    failed = run_cli(scratch, "projections", "retry", "messages")
    assert failed.returncode == 0, failed.stderr
    assert "applied 0" in failed.stdout and f"still parked 2: {poison}, {after}" in failed.stdout

    skipped = run_cli(scratch, "projections", "skip", "messages", str(poison))
    assert skipped.returncode == 0, skipped.stderr
    assert f"retry messages --aggregate {ours.id}" in skipped.stdout
    retried = run_cli(scratch, "projections", "retry", "messages", "--aggregate", str(ours.id))
    assert retried.returncode == 0, retried.stderr
    assert f"applied 1: {after}" in retried.stdout and "still parked 0" in retried.stdout
    assert contents(dsn) == ["after", "theirs"]
    assert parked(dsn, "messages") == []

    for refused, code in (
        (("parked", "nope"), 2),
        (("retry", "nope"), 2),
        (("retry", "messages", "--aggregate", str(uuid.uuid4())), 1),
        (("skip", "messages", str(poison)), 1),
        (("skip", "messages", "not-a-number"), 2),
    ):
        answer = run_cli(scratch, "projections", *refused)
        assert answer.returncode == code, (refused, answer.stderr)
        assert answer.stderr.strip().count("\n") == 0, answer.stderr

    audit = c.store.get(ProjectionLog.create_id("messages"), ProjectionLog)
    assert audit.skipped == [poison] and audit.retries == 2
    kinds = [e.type for e in c.store.read_stream(audit.id, 1, 10)]
    assert kinds == [
        "ProjectionRegistered",
        "ProjectionParkedRetried",
        "ProjectionEventSkipped",
        "ProjectionParkedRetried",
    ]


def test_a_projection_stopped_by_an_older_version_is_skipped_as_before(
    scratch: Settings, scratch_container: Container
) -> None:
    c, dsn = scratch_container, scratch_container.dsn
    chat = conversation(c, "acme")
    before = post(c, chat, "before")
    poison = post(c, chat, "poison")
    after = post(c, chat, "after")
    catch_up(c, "messages")
    with psycopg.connect(dsn, autocommit=True) as admin:  # as the older version left it
        admin.execute("DELETE FROM rm_messages_g1.messages WHERE position >= %s", (poison,))
        admin.execute(
            "UPDATE chronicle_checkpoints SET position = %s WHERE name = 'messages'", (before,)
        )
        admin.execute(
            "UPDATE chronicle_projections SET state = 'stopped', error = 'CheckViolation: x',"
            " error_position = %s WHERE name = 'messages'",
            (poison,),
        )
    assert c.projector("messages").catch_up() == -1
    wrong = run_cli(scratch, "projections", "skip", "messages", str(after))
    assert wrong.returncode == 1 and "not stopped at position" in wrong.stderr
    skipped = run_cli(scratch, "projections", "skip", "messages", str(poison))
    assert skipped.returncode == 0, skipped.stderr
    catch_up(c, "messages")
    assert contents(dsn) == ["before", "after"]
    audit = c.store.get(ProjectionLog.create_id("messages"), ProjectionLog)
    assert audit.skipped == [poison]


def test_retry_resumes_a_projection_stopped_by_an_older_version(
    scratch: Settings, scratch_container: Container
) -> None:
    c, dsn = scratch_container, scratch_container.dsn
    chat = conversation(c, "acme")
    post(c, chat, "huge", INT8_OVERFLOW)
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(
            "UPDATE chronicle_projections SET state = 'stopped', error = 'x', error_position = 1"
            " WHERE name = 'messages'"
        )
    resumed = run_cli(scratch, "projections", "retry", "messages")
    assert resumed.returncode == 0 and "runs again" in resumed.stdout
    catch_up(c, "messages")
    assert len(parked(dsn, "messages")) == 1


def test_existing_databases_get_the_parked_table_on_start(scratch: Settings) -> None:
    dsn = scratch.database_url
    assert dsn
    with psycopg.connect(dsn, autocommit=True) as admin:  # the state of an older version
        admin.execute(
            "CREATE TABLE chronicle_projections (name text PRIMARY KEY,"
            " generation integer NOT NULL, state text NOT NULL DEFAULT 'running', error text,"
            " error_position bigint, rebuilding integer, heartbeat_at timestamptz,"
            " updated_at timestamptz NOT NULL DEFAULT now())"
        )
    ensure_projections(dsn, [MessagesProjection()])
    assert scalar(dsn, "SELECT count(*) FROM chronicle_parked") == 0


def test_a_projector_that_fails_for_no_events_fault_tries_again_instead_of_dying(
    scratch_container: Container,
) -> None:
    c, dsn = scratch_container, scratch_container.dsn
    chat = conversation(c, "acme")
    post(c, chat, "huge", INT8_OVERFLOW)
    with psycopg.connect(dsn, autocommit=True) as admin:  # the queue itself fails for a while
        admin.execute("ALTER TABLE chronicle_parked ADD CONSTRAINT broken CHECK (false)")
    engine = c.projection_engine(["messages"], poll_seconds=0.1)
    with capture_logs() as logs:
        engine.start()
        try:
            failed = lambda: any(e["event"] == "projector failed" for e in logs)  # noqa: E731
            wait_until(failed, 10, "the projector to fail")
            assert checkpoint(dsn, "messages") < head(dsn)
            with psycopg.connect(dsn, autocommit=True) as admin:
                admin.execute("ALTER TABLE chronicle_parked DROP CONSTRAINT broken")
            wait_until(caught_up(dsn, "messages"), 30, "the projector to try again")
        finally:
            engine.stop()
    assert len(parked(dsn, "messages")) == 1


def test_a_retry_while_the_projector_runs_and_the_aggregate_grows_applies_each_once_in_order(
    scratch_container: Container,
) -> None:
    """The conversation's row counts its messages and keeps the version of the last one
    applied: a message applied twice, lost or out of order would show."""
    c, dsn = scratch_container, scratch_container.dsn
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(
            "ALTER TABLE rm_conversations_g1.conversations"
            " ADD CONSTRAINT refuses CHECK (message_count <> 3)"
        )
    chat = conversation(c, "acme")
    engine = c.projection_engine(["conversations"], poll_seconds=0.1)
    engine.start()

    def write() -> None:
        for i in range(60):
            post(c, chat, f"m{i}")

    writer = threading.Thread(target=write)
    try:
        writer.start()
        wait_until(lambda: bool(parked(dsn, "conversations")), 30, "the third message to park")
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute("ALTER TABLE rm_conversations_g1.conversations DROP CONSTRAINT refuses")
        retried = retry_parked(dsn, c.projections["conversations"], c.store.decode_values)
        assert retried.applied and retried.still_parked == []
        writer.join(60)
        wait_until(caught_up(dsn, "conversations"), 30, "the projector")
    finally:
        writer.join(60)
        engine.stop()
    assert parked(dsn, "conversations") == []
    row = rows(dsn, "SELECT message_count, version FROM rm.conversations")[0]
    assert (row["message_count"], row["version"]) == (60, chat.version)


def test_a_corrupted_ciphertext_parks_its_event_and_reads_as_unreadable(
    scratch_container: Container,
) -> None:
    """Bytes of a sealed value altered at rest: projections park the event, naming its
    position and fields, and go on; readers get the fields as null, marked unreadable."""
    c, dsn = scratch_container, scratch_container.dsn
    chat = conversation(c, "acme")
    post(c, chat, "before")
    broken = post(c, chat, "altered at rest")
    post(c, chat, "after, in another conversation's order")
    other = conversation(c, "acme")
    post(c, other, "elsewhere")
    with psycopg.connect(dsn) as conn:
        (state,) = conn.execute(
            "SELECT state FROM chronicle_events WHERE originator_id = %s AND originator_version"
            " = 3",
            (chat.id,),
        ).fetchone() or (None,)
        stored = json.loads(bytes(state))
        ciphertext = stored["_sealed"]["ciphertext"]
        stored["_sealed"]["ciphertext"] = ("B" if ciphertext[0] != "B" else "C") + ciphertext[1:]
        conn.execute(
            "UPDATE chronicle_events SET state = %s WHERE originator_id = %s"
            " AND originator_version = 3",
            (json.dumps(stored).encode(), chat.id),
        )

    catch_up(c, "messages")
    (first, *behind) = parked(dsn, "messages")
    assert (first["position"], first["error_class"]) == (broken, "SealBroken")
    assert f"position {broken}" in first["error"] and "'content', 'author'" in first["error"]
    assert [p["error_class"] for p in behind] == [None]  # its conversation's next, behind it
    assert "elsewhere" in contents(dsn) and "before" in contents(dsn)
    events = c.store.read_stream(chat.id, 1, 10)
    assert events[2].data["content"] is None
    assert events[2].data["_privacy"] == {"content": "unreadable", "author": "unreadable"}
