"""PostgreSQL connection pools that take a restarted server back as soon as it answers.

psycopg_pool finds the broken connections a restart leaves in a pool one at a time, each
after a longer pause (1 s, 2 s, 4 s…), and retries a failed connection with the same
growing pauses: after a restart of under a second, a pool holding a dozen idle
connections kept its callers waiting ten seconds and more. Here the first broken
connection found empties the pool, and while the server is away a new connection is
tried about every second.
"""

from __future__ import annotations

from typing import Any, TypeVar

from psycopg_pool import ConnectionPool

RETRY_S = 1.0

P = TypeVar("P", bound=ConnectionPool[Any])


def recover_quickly(pool: P) -> P:
    """Make ``pool`` (ours, or one a library built) recover at once from a restart."""

    def check(conn: Any) -> None:
        try:
            ConnectionPool.check_connection(conn)
        except Exception:  # raised again: the pool's own handling goes on
            pool.drain()  # the idle ones are as broken: do not find them a pause apart
            raise

    def retry(failed: ConnectionPool[Any]) -> None:
        failed.check()  # it gave up a reconnection: grow again at once

    # psycopg_pool takes these when a pool is built, and eventsourcing builds its own.
    pool._check = check
    pool._reconnect_failed = retry
    pool.reconnect_timeout = RETRY_S
    return pool
