"""Group commit on real PostgreSQL: concurrent commands share transactions, and one
command's conflict, duplicate key or error never fails its neighbours.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from eventsourcing.persistence import StoredEvent

from application.commands import CommandRunner
from application.context import CommandContext, Idempotency
from application.errors import ConcurrencyConflict, DuplicateReceipt, PreconditionFailed
from application.ports import Change, CommandResult
from domain.conversation import Conversation
from infrastructure.batch_writer import (
    WRITER_NAME,
    BatchStatements,
    BatchWriter,
    Outcome,
    PendingCommit,
    PendingReceipt,
)
from infrastructure.event_store import PostgresEventStore
from infrastructure.group_commit import GroupCommit
from infrastructure.settings import Settings


@pytest.fixture
def store(scratch: Settings) -> Iterator[PostgresEventStore]:
    built = PostgresEventStore(scratch)
    yield built
    built.close()


def context(key: str | None = None, fingerprint: str = "f") -> CommandContext:
    idempotency = Idempotency(key, fingerprint) if key else None
    return CommandContext("acme", "tester", "test", idempotency=idempotency)


def started(store: PostgresEventStore, title: str = "Hot") -> Conversation:
    conversation = Conversation.start("acme", title, [])
    commit(store, context(), Change((conversation,), conversation))
    return conversation


def commit(store: PostgresEventStore, context: CommandContext, change: Change) -> CommandResult:
    """``store.commit`` from a thread, as the CLI and the scheduler commit."""
    return store.portal.call(store.commit, context, change)


def write(store: PostgresEventStore, commits: list[PendingCommit]) -> list[Outcome]:
    """One batch as the batch writer answers it, on a connection of its own."""
    writer = BatchWriter(store.database_url, store.recorder)

    async def once() -> list[Outcome]:
        try:
            return await writer.write(commits)
        finally:
            await writer.aclose()

    return store.portal.call(once)


def pending(
    store: PostgresEventStore, conversation: Conversation, key: str | None = None
) -> PendingCommit:
    """A commit of the conversation's pending events, as the store hands it to the writer."""
    events = [store.app.mapper.to_stored_event(e) for e in conversation.collect_events()]
    receipt = PendingReceipt("acme", key, "f", {"id": str(conversation.id)}) if key else None
    return PendingCommit(events, receipt)


def log(store: PostgresEventStore) -> list[tuple[int, uuid.UUID, int]]:
    with store.recorder.datastore.get_connection() as conn:
        rows = conn.execute(
            "SELECT notification_id, originator_id, originator_version FROM chronicle_events"
            " ORDER BY notification_id"
        ).fetchall()
    return [(r["notification_id"], r["originator_id"], r["originator_version"]) for r in rows]


def receipts(store: PostgresEventStore) -> dict[str, int]:
    with store.recorder.datastore.get_connection() as conn:
        rows = conn.execute("SELECT key, position FROM chronicle_receipts").fetchall()
    return {r["key"]: r["position"] for r in rows}


def test_64_concurrent_commands_share_transactions_and_leave_no_gap(
    store: PostgresEventStore,
) -> None:
    hot = started(store)
    before = store.counts.batches
    barrier = threading.Barrier(64)

    def command(i: int) -> CommandResult | str:
        if i % 4 == 0:  # 16 writers of one hot aggregate, all from version 1
            conversation = store.get(hot.id, Conversation)
            conversation.rename(f"title {i}")
        else:
            conversation = Conversation.start("acme", f"c{i}", [])
        barrier.wait()
        try:
            return commit(store, context(key=f"k{i}"), Change((conversation,), conversation))
        except ConcurrencyConflict:
            return "conflict"

    with ThreadPoolExecutor(64) as pool:
        outcomes = list(pool.map(command, range(64)))

    hot_outcomes = [o for i, o in enumerate(outcomes) if i % 4 == 0]
    assert sum(o != "conflict" for o in hot_outcomes) == 1
    assert all(isinstance(o, CommandResult) for i, o in enumerate(outcomes) if i % 4)
    assert store.counts.batches - before < 48  # one batch per command would be 64
    rows = log(store)
    positions = [position for position, _, _ in rows]
    assert positions == list(range(positions[0], positions[0] + len(rows)))
    assert len(rows) == 1 + 48 + 1
    written = {i: o for i, o in enumerate(outcomes) if isinstance(o, CommandResult)}
    assert receipts(store) == {f"k{i}": o.position for i, o in written.items()}
    by_position = {position: (oid, version) for position, oid, version in rows}
    for result in written.values():
        assert by_position[result.position] == (result.id, result.version)


def generic_plan(store: PostgresEventStore) -> str:
    """The plan PostgreSQL caches for the writer's prepared statement, as text."""
    with store.recorder.datastore.get_connection() as conn:
        rows = conn.execute(
            f"EXPLAIN (GENERIC_PLAN) {BatchStatements(store.recorder).round_text(conn)}"
        ).fetchall()
    return "\n".join(row["QUERY PLAN"] for row in rows)


def test_the_writer_screens_by_primary_key_however_young_or_old_the_log(
    store: PostgresEventStore,
) -> None:
    young = generic_plan(store)  # no statistics yet: planned as for an empty table
    for i in range(300):
        conversation = Conversation.start("acme", f"c{i}", [])
        commit(store, context(key=f"k{i}"), Change((conversation,), conversation))
    with store.recorder.datastore.get_connection() as conn:
        conn.execute("ANALYZE chronicle_events")
        conn.execute("ANALYZE chronicle_receipts")
    grown = generic_plan(store)

    for plan in (young, grown):
        assert "Seq Scan" not in plan, plan
        assert "Index Scan using chronicle_events_pkey" in plan
        assert "Index Only Scan using chronicle_receipts_pkey" in plan


def test_a_conflicting_command_fails_alone_in_its_batch(store: PostgresEventStore) -> None:
    hot = started(store)
    stale = store.get(hot.id, Conversation)
    fresh = store.get(hot.id, Conversation)
    fresh.rename("Winner")
    commit(store, context(), Change((fresh,), fresh))
    stale.rename("Loser")
    first, second = Conversation.start("acme", "a", []), Conversation.start("acme", "b", [])

    outcomes = write(store, [pending(store, first), pending(store, stale), pending(store, second)])

    assert isinstance(outcomes[1], ConcurrencyConflict)
    assert isinstance(outcomes[0], list)
    assert isinstance(outcomes[2], list)
    assert outcomes[2] == [outcomes[0][0] + 1]
    assert store.get(hot.id, Conversation).title == "Winner"


def test_two_commands_of_one_aggregate_version_in_a_batch_the_first_wins(
    store: PostgresEventStore,
) -> None:
    hot = started(store)
    one, two = store.get(hot.id, Conversation), store.get(hot.id, Conversation)
    one.rename("One")
    two.rename("Two")
    outcomes = write(store, [pending(store, one), pending(store, two)])
    assert isinstance(outcomes[0], list)
    assert isinstance(outcomes[1], ConcurrencyConflict)
    assert store.get(hot.id, Conversation).title == "One"


def test_a_commit_written_again_after_a_lost_answer_gets_its_positions_back(
    store: PostgresEventStore,
) -> None:
    """A writer whose connection broke after COMMIT cannot know the batch was written, so
    it writes it again: the same events are answered with the positions they took, not
    refused as a conflict, and nothing is written twice."""
    lost = pending(store, Conversation.start("acme", "lost", []), "lost-answer")
    first = write(store, [lost, pending(store, Conversation.start("acme", "b", []))])
    newer = pending(store, Conversation.start("acme", "c", []))
    again = write(store, [lost, newer])
    assert again[0] == first[0]
    assert isinstance(first[1], list) and again[1] == [first[1][0] + 1]
    assert receipts(store) == {"lost-answer": first[0][-1]}  # type: ignore[index]
    assert len(log(store)) == 3


def test_a_duplicate_idempotency_key_in_one_batch_fails_only_the_later_command(
    store: PostgresEventStore,
) -> None:
    first, again, other = (Conversation.start("acme", t, []) for t in ("a", "a again", "b"))
    outcomes = write(
        store,
        [pending(store, first, "dup"), pending(store, again, "dup"), pending(store, other, "x")],
    )
    assert isinstance(outcomes[0], list)
    assert isinstance(outcomes[1], DuplicateReceipt)
    assert isinstance(outcomes[2], list)
    assert receipts(store) == {"dup": outcomes[0][-1], "x": outcomes[2][-1]}
    assert store.read_stream(again.id, 1, 10) == []
    assert [position for position, _, _ in log(store)] == [outcomes[0][0], outcomes[2][0]]


def test_concurrent_retries_of_one_idempotency_key_write_once(store: PostgresEventStore) -> None:
    runner = CommandRunner(store)
    barrier = threading.Barrier(16)
    ids: list[uuid.UUID] = []

    def decide() -> Change:
        conversation = Conversation.start("acme", "Once", [])
        ids.append(conversation.id)
        return Change((conversation,), conversation)

    def retry(_: int) -> CommandResult:
        barrier.wait()
        return store.portal.call(runner.run, context(key="same"), decide)

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(retry, range(16)))

    assert len({(r.id, r.position) for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1
    assert len(log(store)) == 1
    assert receipts(store) == {"same": results[0].position}


def test_an_error_in_one_command_does_not_fail_its_neighbours(store: PostgresEventStore) -> None:
    good = [Conversation.start("acme", t, []) for t in ("a", "b")]
    bad = pending(store, Conversation.start("acme", "bad", []))
    event = bad.events[0]
    broken = PendingCommit(
        [StoredEvent(event.originator_id, 2**63, event.topic, event.state)]  # out of range
    )

    async def write_all() -> list[Outcome]:
        writer = BatchWriter(store.database_url, store.recorder)
        try:
            group: GroupCommit[PendingCommit, list[int]] = GroupCommit(writer)
            return list(
                await group._write_all([pending(store, good[0]), broken, pending(store, good[1])])
            )
        finally:
            await writer.aclose()

    outcomes = store.portal.call(write_all)
    assert isinstance(outcomes[1], psycopg.errors.NumericValueOutOfRange)
    assert [o for o in (outcomes[0], outcomes[2]) if isinstance(o, list)] == [
        outcomes[0],
        outcomes[2],
    ]
    assert {oid for _, oid, _ in log(store)} == {good[0].id, good[1].id}


def test_a_receipt_takes_its_commands_last_position(store: PostgresEventStore) -> None:
    conversation = Conversation.start("acme", "Several", [])
    for n in range(3):
        conversation.post_message(uuid.uuid4(), "user", f"m{n}", None, None)
    result = commit(store, context(key="several"), Change((conversation,), conversation))
    positions = [p for p, _, _ in log(store)]
    assert result.position == positions[-1] == receipts(store)["several"]
    assert result.version == 4


def test_keys_and_answers_are_stored_verbatim_whatever_they_hold(
    store: PostgresEventStore,
) -> None:
    """The writer binds its values in the client: quotes, backslashes, braces, commas and
    statement separators must reach the tables as they were sent, and run nothing."""
    nasty = "k'\"\\{a,b}; DROP TABLE chronicle_events; -- é ☃ $1 %s"
    conversation = Conversation.start("acme", nasty, [])
    idempotency = Idempotency(nasty, fingerprint=nasty)
    change = Change((conversation,), conversation, {"echo": nasty})
    result = commit(
        store, CommandContext("acme", "tester", "test", idempotency=idempotency), change
    )

    receipt = store.find_receipt("acme", nasty)
    assert receipt is not None
    assert receipt.fingerprint == nasty
    assert receipt.result.fields == {"echo": nasty}
    assert receipt.result.position == result.position
    assert store.get(conversation.id, Conversation).title == nasty


def test_a_follower_never_skips_a_position_while_writers_commit(
    store: PostgresEventStore,
) -> None:
    done = threading.Event()
    seen: list[int] = []

    def follow() -> None:
        last = 0
        with store.recorder.datastore.get_connection() as conn:
            while True:
                finished = done.is_set()
                rows = conn.execute(
                    "SELECT notification_id FROM chronicle_events WHERE notification_id > %s"
                    " ORDER BY notification_id",
                    (last,),
                ).fetchall()
                for row in rows:
                    seen.append(row["notification_id"])
                    last = row["notification_id"]
                if finished and not rows:
                    return

    follower = threading.Thread(target=follow)
    follower.start()

    def start(i: int) -> None:
        conversation = Conversation.start("acme", f"c{i}", [])
        commit(store, context(), Change((conversation,), conversation))

    with ThreadPoolExecutor(32) as pool:
        list(pool.map(start, range(400)))
    done.set()
    follower.join(30)
    assert seen == [position for position, _, _ in log(store)]
    assert seen == list(range(seen[0], seen[0] + 400))


def test_a_change_without_events_is_refused_before_it_reaches_the_log(
    store: PostgresEventStore,
) -> None:
    conversation = started(store)
    with pytest.raises(ValueError, match="at least one event"):
        commit(store, context(key="empty"), Change((conversation,), conversation))
    assert receipts(store) == {}


async def test_coroutines_and_threads_commit_together_and_leave_no_gap(
    store: PostgresEventStore,
) -> None:
    """64 coroutines on the event loop (starts decided on the loop, renames of one hot
    aggregate decided in threads and retried) beside 16 threads committing at once."""
    runner = CommandRunner(store)
    hot = started(store)

    async def command(i: int) -> CommandResult:
        if i % 4 == 0:

            def rename() -> Change:
                conversation = store.get(hot.id, Conversation)
                conversation.rename(f"title {i}")
                return Change((conversation,), conversation)

            return await runner.run(context(), rename, retry_on_conflict=True)

        def start() -> Change:
            conversation = Conversation.start("acme", f"c{i}", [])
            return Change((conversation,), conversation)

        return await runner.run(context(), start, decide_blocks=False)

    def threaded(i: int) -> CommandResult:
        conversation = Conversation.start("acme", f"t{i}", [])
        return store.portal.call(
            runner.run, context(), lambda: Change((conversation,), conversation)
        )

    before = store.counts.batches
    with ThreadPoolExecutor(16) as pool:
        from_threads = pool.map(threaded, range(16))
        awaited = await asyncio.gather(*(command(i) for i in range(64)))
        results = [*awaited, *from_threads]

    assert store.counts.batches - before < 40
    rows = log(store)
    positions = [position for position, _, _ in rows]
    assert positions == list(range(positions[0], positions[0] + len(rows)))
    assert len(rows) == 1 + 64 + 16  # every rename landed, after retries
    by_position = {position: (oid, version) for position, oid, version in rows}
    assert all(by_position[r.position] == (r.id, r.version) for r in results)
    assert store.get(hot.id, Conversation).version == 17


async def test_an_awaited_command_with_a_stale_if_match_is_refused(
    store: PostgresEventStore,
) -> None:
    runner = CommandRunner(store)
    hot = started(store)
    stale, also_stale = store.get(hot.id, Conversation), store.get(hot.id, Conversation)
    fresh = store.get(hot.id, Conversation)
    fresh.rename("Winner")
    commit(store, context(), Change((fresh,), fresh))
    stale.rename("Loser")
    also_stale.rename("Loser too")

    with pytest.raises(PreconditionFailed):
        await runner.run(
            context(), lambda: Change((stale,), stale), expected_version=1, decide_blocks=False
        )
    with pytest.raises(ConcurrencyConflict):
        await runner.run(context(), lambda: Change((also_stale,), also_stale), decide_blocks=False)
    assert store.get(hot.id, Conversation).title == "Winner"


async def test_concurrent_awaited_retries_of_one_idempotency_key_write_once(
    store: PostgresEventStore,
) -> None:
    runner = CommandRunner(store)

    def decide() -> Change:
        conversation = Conversation.start("acme", "Once", [])
        return Change((conversation,), conversation)

    results = await asyncio.gather(
        *(runner.run(context(key="same"), decide, decide_blocks=False) for _ in range(16))
    )
    assert len({(r.id, r.position) for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1
    assert receipts(store) == {"same": results[0].position}


def loop_writers(settings: Settings) -> int:
    """How many loop writers are connected to the database."""
    with psycopg.connect(settings.database_url or "") as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE application_name = %s AND datname = current_database()",
            (WRITER_NAME,),
        ).fetchone()
    assert row is not None
    return int(row[0])


def start(title: str) -> Callable[[], Change]:
    def decide() -> Change:
        conversation = Conversation.start("acme", title, [])
        return Change((conversation,), conversation)

    return decide


async def test_the_loop_writer_reconnects_after_losing_its_connection(
    store: PostgresEventStore, scratch: Settings
) -> None:
    runner = CommandRunner(store)
    first = await runner.run(context(), start("before"), decide_blocks=False)
    with psycopg.connect(scratch.database_url or "", autocommit=True) as conn:
        killed = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = %s AND datname = current_database()",
            (WRITER_NAME,),
        ).fetchall()
    assert killed == [(True,)]
    after = await asyncio.gather(
        *(runner.run(context(), start(f"after {i}"), decide_blocks=False) for i in range(8))
    )
    assert sorted(r.position for r in after) == list(range(first.position + 1, first.position + 9))
    assert loop_writers(scratch) == 1


async def test_closing_the_store_from_another_thread_writes_what_the_loop_has_queued(
    scratch: Settings,
) -> None:
    """As the API's lifespan closes it: from a worker thread, while the loop runs."""
    store = PostgresEventStore(scratch)
    store.portal.attach()  # this loop writes, as the API's does
    runner = CommandRunner(store)
    waiting = [
        asyncio.ensure_future(runner.run(context(), start(f"c{i}"), decide_blocks=False))
        for i in range(32)
    ]
    await asyncio.sleep(0)  # every command is queued (or being written)
    await asyncio.to_thread(store.close)
    results = await asyncio.gather(*waiting)
    positions = sorted(r.position for r in results)
    assert positions == list(range(positions[0], positions[0] + 32))
    for _ in range(100):  # the server ends a closed connection's backend a moment later
        if loop_writers(scratch) == 0:
            break
        await asyncio.sleep(0.02)
    assert loop_writers(scratch) == 0
    with pytest.raises(RuntimeError, match="closed"):
        await runner.run(context(), start("late"), decide_blocks=False)
