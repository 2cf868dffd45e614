"""The task queue over the tasks read model: claimable candidates, best first, each
locked (FOR UPDATE SKIP LOCKED) while one claimer tries it, so claimers spread out.

A reservation holds its transaction while the claimer awaits its command's commit on the
event loop; the transaction's statements run in worker threads (the pool is synchronous).
Writes no read model: an attempt just started is remembered in a table of claims of the
queue's own until the read model shows it (a rebuild leaves the claims be).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

import psycopg

from infrastructure.read_models import SETUP_LOCK, Conn, reader_pool
from projections.base import READ_SCHEMA

CLAIMS = "chronicle_task_claims"
CLAIMS_DDL = (
    f"CREATE TABLE IF NOT EXISTS {CLAIMS} ("
    " task_id uuid PRIMARY KEY, attempt integer NOT NULL,"
    " claimed_at timestamptz NOT NULL DEFAULT now())"
)
# A pending task is skipped while a claim of a later attempt than the read model shows
# exists: that attempt was started, and the projector has not applied it yet.
CANDIDATE = (
    f"SELECT id FROM {READ_SCHEMA}.tasks t"  # noqa: S608
    " WHERE tenant_id = %s AND state = 'pending' AND type = ANY(%s) AND run_at <= now()"
    " AND id <> ALL(%s)"
    f" AND NOT EXISTS (SELECT FROM {CLAIMS} c WHERE c.task_id = t.id AND c.attempt > t.attempt)"
    " ORDER BY priority DESC, submitted_position LIMIT 1 FOR UPDATE SKIP LOCKED"
)
CLAIMED = (
    f"INSERT INTO {CLAIMS} (task_id, attempt) VALUES (%s, %s)"  # noqa: S608
    " ON CONFLICT (task_id) DO UPDATE SET attempt = excluded.attempt, claimed_at = now()"
)
CLAIMS_KEPT_AT_MOST = "1 hour"  # then a claimer may try the task again: the task refuses


class LockedCandidate:
    """One candidate task, locked in the claimer's transaction."""

    def __init__(self, conn: Conn, task_id: UUID) -> None:
        self.conn = conn
        self.task_id = task_id

    async def claimed(self, attempt: int) -> None:
        await asyncio.to_thread(self.conn.execute, CLAIMED, (self.task_id, attempt))


class PostgresTaskQueue:
    """Claim candidates from the read model, locked one at a time."""

    def __init__(self, dsn: str, max_size: int = 8) -> None:
        self.pool = reader_pool(dsn, max_size)
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (SETUP_LOCK,))
            conn.execute(CLAIMS_DDL)

    def close(self) -> None:
        self.pool.close()

    @asynccontextmanager
    async def reserve(
        self, tenant_id: str, types: list[str], limit: int
    ) -> AsyncIterator[AsyncIterator[LockedCandidate]]:
        conn = await asyncio.to_thread(self.pool.getconn)
        try:
            await asyncio.to_thread(conn.execute, "BEGIN")

            def next_candidate(seen: list[UUID]) -> dict[str, Any] | None:
                return conn.execute(CANDIDATE, (tenant_id, types, seen)).fetchone()

            async def candidates() -> AsyncIterator[LockedCandidate]:
                seen: list[UUID] = []
                while len(seen) < limit:
                    row = await asyncio.to_thread(next_candidate, seen)
                    if row is None:
                        return
                    seen.append(row["id"])
                    yield LockedCandidate(conn, row["id"])

            yield candidates()
            await asyncio.to_thread(conn.execute, "COMMIT")
        except BaseException:
            with contextlib.suppress(psycopg.Error):  # a broken connection rolled back itself
                await asyncio.to_thread(conn.execute, "ROLLBACK")
            raise
        finally:
            await asyncio.to_thread(self.pool.putconn, conn)

    def forget_claims(self) -> int:
        """Drop the claims the read model has caught up with (or older than an hour);
        how many."""
        with self.pool.connection() as conn:
            forgotten = conn.execute(
                f"DELETE FROM {CLAIMS} c USING {READ_SCHEMA}.tasks t"  # noqa: S608
                " WHERE t.id = c.task_id AND t.attempt >= c.attempt"
            ).rowcount
            forgotten += conn.execute(
                f"DELETE FROM {CLAIMS} WHERE claimed_at < now() - %s::interval",  # noqa: S608
                (CLAIMS_KEPT_AT_MOST,),
            ).rowcount
        return forgotten

    def expired_leases(self, limit: int = 100) -> list[tuple[UUID, str]]:
        """Running tasks whose lease has passed, across tenants (for the scheduler)."""
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT id, tenant_id FROM {READ_SCHEMA}.tasks"  # noqa: S608
                " WHERE state = 'running' AND lease_until < now() ORDER BY lease_until LIMIT %s",
                (limit,),
            ).fetchall()
        return [(row["id"], row["tenant_id"]) for row in rows]
