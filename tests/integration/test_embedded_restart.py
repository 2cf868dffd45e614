"""An embedded PostgreSQL killed with -9 starts again on its data, and the stale lock
file it leaves harms no process that took its pid since.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import psycopg

from infrastructure.embedded import POSTGRES_SYSTEM_USER, EmbeddedPostgres, EmbeddedServerError


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
