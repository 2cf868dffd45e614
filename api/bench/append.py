"""Append scenario: commands/s through the group-committing store, beside the bare
`eventsourcing` library (one event per transaction) and raw batched INSERTs.

Every contender writes the same kind of row (a one-event conversation) with 64 callers
(coroutines for Chronicle, whose API awaits commands; threads for the synchronous library),
except the raw batch, which is one writer of pre-encoded rows, 500 per transaction.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.application import Application
from eventsourcing.persistence import StoredEvent

from application.commands import CommandRunner, TracedCommandRunner
from application.context import CommandContext
from application.ports import Change, CommandTracer
from domain.conversation import Conversation
from infrastructure import tracing
from infrastructure.command_spans import CommandSpans
from infrastructure.event_store import PostgresEventStore, application_env
from infrastructure.settings import Settings

CALLERS = 64
RAW_BATCH = 500
WARM_UP = 200
EXPORTER_START_SECONDS = 1.5  # its interpreter and the SDK's exporter, imported


class BareLibrary(Application[UUID]):
    """The library as its documentation shows it: ``save()`` per command."""

    name = "BareLibrary"


def concurrently(callers: int, commands: int, command: Callable[[int], object]) -> float:
    """Commands/s of ``callers`` threads sharing ``commands`` calls of ``command``."""
    counter = iter(range(commands))
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            command(i)

    with ThreadPoolExecutor(callers) as pool:
        began = time.perf_counter()
        for future in [pool.submit(work) for _ in range(callers)]:
            future.result()
        return commands / (time.perf_counter() - began)


def store_rate(
    store: PostgresEventStore,
    commands: int,
    callers: int = CALLERS,
    tracer: CommandTracer | None = None,
) -> float:
    """Commands/s of starting conversations through the CommandRunner and the store, from
    ``callers`` coroutines awaiting the runner on the store's home loop (as the HTTP API
    calls it, on its loop)."""
    runner = CommandRunner(store) if tracer is None else TracedCommandRunner(store, tracer)
    context = CommandContext("bench", "bench", "conversations.start")
    counter = iter(range(commands))

    async def caller() -> None:
        for i in counter:

            def decide(title: str = f"c{i}") -> Change:
                conversation = Conversation.start("bench", title, [])
                return Change((conversation,), conversation)

            await runner.run(context, decide, decide_blocks=False)

    async def all_callers() -> float:
        store.portal.attach()  # this loop writes, as the API's does
        began = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(callers)))
        return commands / (time.perf_counter() - began)

    return run_like_the_api(all_callers())


def traced_store_rate(
    store: PostgresEventStore, commands: int, otel_environment: dict[str, str]
) -> float:
    """`store_rate` with this process traced as the ``OTEL_*`` variables given say (a
    span per command and per group commit, exported by the exporter process), measured
    once that process, which starts with the first spans, is up."""
    tracing.configure(["api"], otel_environment)
    try:
        store_rate(store, WARM_UP, tracer=CommandSpans())
        tracing.flush()
        time.sleep(EXPORTER_START_SECONDS)
        return store_rate(store, commands, tracer=CommandSpans())
    finally:
        tracing.uninstall()  # exports what is left, outside the measured time


def run_like_the_api(coroutine: Coroutine[Any, Any, float]) -> float:
    """Run ``coroutine`` on the event loop the API runs on: uvloop, which uvicorn takes
    when it is installed (as `litestar[standard]` installs it), else asyncio's own."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is not built for every platform
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def bare_rate(settings: Settings, commands: int, callers: int = CALLERS) -> float:
    """Commands/s of the same starts through ``Application.save()``, one per transaction."""
    env = application_env(settings)
    del env["APPLICATION_RECORDER_TOPIC"], env["TRANSCODER_TOPIC"]
    app = BareLibrary(env=env)
    try:
        return concurrently(
            callers, commands, lambda i: app.save(Conversation.start("bench", f"c{i}", []))
        )
    finally:
        app.close()


def encoded_rows(store: PostgresEventStore, count: int) -> list[StoredEvent]:
    """``count`` conversation starts in the stored format, encoded ahead of time."""
    mapper = store.app.mapper
    return [
        mapper.to_stored_event(event)
        for i in range(count)
        for event in Conversation.start("bench", f"c{i}", []).collect_events()
    ]


def raw_rate(dsn: str, rows: list[StoredEvent], batch: int = RAW_BATCH) -> float:
    """Rows/s of plain batched INSERTs of ``rows`` into a table shaped like the log."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_raw_events")
        conn.execute(
            "CREATE TABLE bench_raw_events (originator_id uuid NOT NULL,"
            " originator_version bigint NOT NULL, topic text, state bytea,"
            " notification_id bigserial UNIQUE, PRIMARY KEY (originator_id, originator_version))"
        )
    values = [(r.originator_id, r.originator_version, r.topic, r.state) for r in rows]
    with psycopg.connect(dsn) as conn, conn.cursor() as cursor:
        began = time.perf_counter()
        for start in range(0, len(values), batch):
            cursor.executemany(
                "INSERT INTO bench_raw_events (originator_id, originator_version, topic, state)"
                " VALUES (%s, %s, %s, %s)",
                values[start : start + batch],
            )
            conn.commit()
        return len(values) / (time.perf_counter() - began)
