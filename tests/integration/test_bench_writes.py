"""The write-path bench pieces measure what they claim, on small sizes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from api.bench.append import bare_rate, encoded_rows, raw_rate, store_rate
from api.bench.instructions import workload
from api.bench.load import cold_loads_ms, long_conversation
from api.bench.loadgen import run
from api.bootstrap import Container
from application.context import CommandContext
from domain.conversation import Conversation
from domain.identity import SCOPES
from infrastructure.event_store import PostgresEventStore
from infrastructure.settings import Settings


@pytest.fixture
def store(scratch: Settings) -> Iterator[PostgresEventStore]:
    built = PostgresEventStore(scratch)
    yield built
    built.close()


def stored_events(store: PostgresEventStore, table: str) -> int:
    with store.recorder.datastore.get_connection() as conn:
        row = conn.execute(f"SELECT count(*) AS n FROM {table}").fetchone()  # noqa: S608
    assert row is not None
    return int(row["n"])


def test_each_append_contender_writes_every_row_it_counts(
    store: PostgresEventStore, scratch: Settings
) -> None:
    assert store_rate(store, 200, callers=16) > 0
    assert bare_rate(scratch, 40, callers=8) > 0
    assert raw_rate(scratch.database_url or "", encoded_rows(store, 1200)) > 0
    assert stored_events(store, "chronicle_events") == 200
    assert stored_events(store, "barelibrary_events") == 40
    assert stored_events(store, "bench_raw_events") == 1200


def test_the_counted_workloads_write_what_they_count(
    store: PostgresEventStore, scratch: Settings
) -> None:
    """What `api.bench.instructions` runs under valgrind, here without it."""
    dsn = scratch.database_url or ""
    workload("command", 120, dsn)
    assert stored_events(store, "chronicle_events") == 120
    workload("raw_row", 300, dsn)
    assert stored_events(store, "bench_raw_events") == 300
    workload("raw_row_setup", 300, dsn)  # makes the rows, writes none
    assert stored_events(store, "bench_raw_events") == 300
    workload("library_start", 10, dsn)
    assert stored_events(store, "chronicle_events") == 120  # aggregates made, none stored


def test_a_long_conversation_has_its_events_and_loads_cold(store: PostgresEventStore) -> None:
    large, small = long_conversation(store, 1050), long_conversation(store, 100)
    assert store.load_cold(large).version == 1050
    assert store.load_cold(small).version == 100
    assert all(ms > 0 for ms in cold_loads_ms(store, [large, small], 3))
    loaded = store.load_cold(large)
    assert isinstance(loaded, Conversation)
    assert loaded.message_count == 1049


def test_the_load_generator_counts_answered_commands(api_url: str, container: Container) -> None:
    context = CommandContext("bench-test", "test", "keys.create")
    token = container.portal.call(
        container.identity.issue_key,
        context,
        "bench-test",
        "bench",
        list(SCOPES),
        rate_limit_per_minute=1_000_000,
    ).token
    figures = asyncio.run(run(api_url, token, 4, 1.0))
    assert figures["commands"] > 0
    assert figures["errors"] == 0
    assert 0 < figures["p50_ms"] <= figures["p99_ms"]
