"""The task queue over the tasks read model: claimable candidates, best first, each
locked (FOR UPDATE SKIP LOCKED) while one claimer tries it, so claimers spread out.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from uuid import UUID

from infrastructure.read_models import Conn, reader_pool
from projections.base import READ_SCHEMA

CANDIDATE = (
    f"SELECT id FROM {READ_SCHEMA}.tasks"  # noqa: S608
    " WHERE tenant_id = %s AND state = 'pending' AND type = ANY(%s) AND run_at <= now()"
    " AND id <> ALL(%s) ORDER BY priority DESC, submitted_position LIMIT 1"
    " FOR UPDATE SKIP LOCKED"
)


class LockedCandidate:
    """One candidate task, locked in the claimer's transaction."""

    def __init__(self, conn: Conn, task_id: UUID) -> None:
        self.conn = conn
        self.task_id = task_id

    def claimed(self) -> None:
        # A hint until the projector applies TaskStarted: other claimers skip the row.
        self.conn.execute(
            f"UPDATE {READ_SCHEMA}.tasks SET state = 'running' WHERE id = %s",  # noqa: S608
            (self.task_id,),
        )


class PostgresTaskQueue:
    """Claim candidates from the read model, locked one at a time."""

    def __init__(self, dsn: str, max_size: int = 8) -> None:
        self.pool = reader_pool(dsn, max_size)

    def close(self) -> None:
        self.pool.close()

    @contextmanager
    def reserve(
        self, tenant_id: str, types: list[str], limit: int
    ) -> Iterator[Iterator[LockedCandidate]]:
        with self.pool.connection() as conn, conn.transaction():

            def candidates() -> Iterator[LockedCandidate]:
                seen: list[UUID] = []
                while len(seen) < limit:
                    row = conn.execute(CANDIDATE, (tenant_id, types, seen)).fetchone()
                    if row is None:
                        return
                    seen.append(row["id"])
                    yield LockedCandidate(conn, row["id"])

            yield candidates()

    def expired_leases(self, limit: int = 100) -> list[tuple[UUID, str]]:
        """Running tasks whose lease has passed, across tenants (for the scheduler)."""
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT id, tenant_id FROM {READ_SCHEMA}.tasks"  # noqa: S608
                " WHERE state = 'running' AND lease_until < now() ORDER BY lease_until LIMIT %s",
                (limit,),
            ).fetchall()
        return [(row["id"], row["tenant_id"]) for row in rows]
