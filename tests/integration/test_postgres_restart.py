"""A kill -9 of PostgreSQL, for real: the embedded server starts again on its data (the
stale lock file it leaves harms no process that took its pid since), and the pools of
Chronicle's processes hand out working connections as soon as it answers again.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import psycopg
import pytest

from infrastructure.embedded import POSTGRES_SYSTEM_USER, EmbeddedPostgres, EmbeddedServerError
from infrastructure.event_store import PostgresEventStore
from infrastructure.read_models import reader_pool
from infrastructure.settings import Settings
from infrastructure.subject_keys import new_master_key

# Well above the second or so a pool takes after the restart, well below the pauses
# (1 s, 2 s, 4 s…) of finding a pool's broken connections one at a time.
ANSWERS_WITHIN_S = 5


def kill_9_and_restart(server: EmbeddedPostgres) -> None:
    assert server.process is not None
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait(10)
    server.stop()
    start_riding_out_old_backends(server)


def start_riding_out_old_backends(server: EmbeddedPostgres, timeout: float = 30) -> None:
    """`start`, again while the killed postmaster's backends still hold its shared memory
    (as the supervisor's backoff does)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            server.start()
            return
        except EmbeddedServerError:
            server.stop()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_a_postmaster_killed_9_starts_again_and_spares_who_took_its_pid(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path / "postgres" / "data")
    server.start()
    stranger = None
    try:
        with psycopg.connect(server.url, autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (n int)")
            conn.execute("INSERT INTO kept VALUES (1)")
        assert server.process is not None
        os.kill(server.process.pid, signal.SIGKILL)
        assert server.process.wait(10) == -signal.SIGKILL
        server.stop()
        # A process of the server's own user now holds the pid the lock file names.
        stranger = subprocess.Popen(
            ["sleep", "60"], user=POSTGRES_SYSTEM_USER if os.geteuid() == 0 else None
        )
        lock = tmp_path / "postgres" / "data" / "postmaster.pid"
        rest = lock.read_text().partition("\n")[2]
        lock.write_text(f"{stranger.pid}\n{rest}")

        start_riding_out_old_backends(server)

        assert stranger.poll() is None, "the process that took the pid was signalled"
        with psycopg.connect(server.url) as conn:
            assert conn.execute("SELECT n FROM kept").fetchall() == [(1,)]
    finally:
        server.stop()
        if stranger is not None:
            stranger.kill()
            stranger.wait()


@pytest.fixture(scope="module")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(tmp_path_factory.mktemp("restarts") / "postgres" / "data")
    server.start()
    yield server
    server.stop()


def test_a_reader_pool_answers_at_once_after_a_restart(postgres: EmbeddedPostgres) -> None:
    pool = reader_pool(postgres.url, max_size=8)
    try:
        hold_idle_connections(pool.connection, 8)
        kill_9_and_restart(postgres)
        with pool.connection(timeout=ANSWERS_WITHIN_S) as conn:
            assert conn.execute("SELECT 1 AS one").fetchone() == {"one": 1}
    finally:
        pool.close()


def test_the_event_store_answers_at_once_after_a_restart(postgres: EmbeddedPostgres) -> None:
    settings = Settings(database_url=postgres.url, db_pool_size=8, master_key=new_master_key())
    store = PostgresEventStore(settings)
    pool = store.recorder.datastore.pool
    try:
        hold_idle_connections(pool.connection, 8)
        kill_9_and_restart(postgres)
        with pool.connection(timeout=ANSWERS_WITHIN_S) as conn:
            conn.execute("SELECT 1")
        store.ping()
    finally:
        store.close()


def hold_idle_connections(
    connection: Callable[[], AbstractContextManager[Any]], count: int
) -> None:
    """Make the pool hold ``count`` connections (idle once this returns)."""
    with contextlib.ExitStack() as held:
        for _ in range(count):
            held.enter_context(connection())
