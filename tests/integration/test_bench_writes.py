"""The write-path bench pieces measure what they claim, on small sizes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace

import pytest

from api.bench.append import (
    WARM_UP,
    bare_rate,
    encoded_rows,
    raw_rate,
    store_rate,
    traced_store_rate,
)
from api.bench.instructions import workload
from api.bench.load import cold_loads_ms, long_conversation
from api.bench.loadgen import run
from api.bench.otlp_sink import otlp_sink
from api.bench.report import MASTER_KEY
from api.bootstrap import Container
from application.context import CommandContext
from domain.conversation import Conversation
from domain.identity import SCOPES
from infrastructure import tracing
from infrastructure.event_store import PostgresEventStore
from infrastructure.settings import Settings
from tests.otlp_receiver import receiving


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


def test_the_traced_append_exports_a_span_per_command_and_stops_tracing(
    store: PostgresEventStore,
) -> None:
    with receiving() as receiver:
        otel = {"OTEL_TRACES_SAMPLER": "always_on", "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url}
        assert traced_store_rate(store, 100, otel) > 0
        spans = receiver.snapshot()
    assert not tracing.enabled()
    commands = 100 + WARM_UP  # the warm-up starts the exporter process before the timing
    assert stored_events(store, "chronicle_events") == commands
    assert sum(s.name == "command conversations.start" for s in spans) == commands
    batches = [s for s in spans if s.name == "group commit"]
    assert batches and sum(len(s.linked_traces) for s in batches) == commands
    with otlp_sink() as sink:  # the benchmark's own sink accepts what is exported to it
        assert traced_store_rate(store, 20, sink) > 0


def test_the_counted_workloads_write_what_they_count(scratch: Settings) -> None:
    """What `api.bench.instructions` runs under valgrind, here without it (with the
    bench's master key, which its processes share)."""
    dsn = scratch.database_url or ""
    store = PostgresEventStore(replace(scratch, master_key=MASTER_KEY))
    try:
        counted_workloads(store, dsn)
    finally:
        store.close()


def counted_workloads(store: PostgresEventStore, dsn: str) -> None:
    workload("command", 120, dsn)
    assert stored_events(store, "chronicle_events") == 120
    workload("command_traced", 30, dsn)
    assert stored_events(store, "chronicle_events") == 150 + WARM_UP
    workload("raw_row", 300, dsn)
    assert stored_events(store, "bench_raw_events") == 300
    workload("raw_row_setup", 300, dsn)  # makes the rows, writes none
    assert stored_events(store, "bench_raw_events") == 300
    workload("library_start", 10, dsn)
    assert stored_events(store, "chronicle_events") == 150 + WARM_UP  # none stored


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
