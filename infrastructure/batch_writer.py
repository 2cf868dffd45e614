"""Writes a group commit: many commands' events and receipts in one PostgreSQL transaction.

Only writes what it is given, in order; batching and waiting belong to `GroupCommit`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

import psycopg
import psycopg.errors
from eventsourcing.persistence import StoredEvent
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composable
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from application.errors import ConcurrencyConflict, DuplicateReceipt

Outcome = list[int] | Exception  # a commit's positions, or why it was refused


@dataclass(frozen=True)
class PendingReceipt:
    """An idempotency receipt, written in the same transaction as its command's events."""

    tenant_id: str
    key: str
    fingerprint: str
    result: dict[str, Any]


@dataclass(frozen=True)
class PendingCommit:
    """One command's stored events and receipt, waiting to be written in a group commit."""

    events: Sequence[StoredEvent]
    receipt: PendingReceipt | None = None

    @property
    def keys(self) -> list[tuple[UUID, int]]:
        """The (aggregate id, version) of each event, the log's primary key."""
        return [(e.originator_id, e.originator_version) for e in self.events]  # type: ignore[misc]


class Tables(Protocol):
    """What the writer needs to know of the recorder: its tables and its lock."""

    @property
    def events(self) -> Composable: ...
    @property
    def receipts(self) -> Composable: ...
    @property
    def channel_name(self) -> str: ...
    @property
    def lock_table_statements(self) -> list[Any]: ...


class BatchWriter:
    """Writes batches of commits on one connection of its own (one leader writes at a time)."""

    def __init__(self, pool: ConnectionPool[psycopg.Connection[DictRow]], tables: Tables) -> None:
        self._pool = pool
        self._connection: psycopg.Connection[DictRow] | None = None
        self._lock = tables.lock_table_statements
        self._notify = SQL("NOTIFY {0}").format(psycopg.sql.Identifier(tables.channel_name))
        self._taken_versions = SQL(
            "SELECT originator_id, originator_version FROM {0}"
            " WHERE (originator_id, originator_version) IN"
            " (SELECT * FROM unnest(%s::uuid[], %s::bigint[]))"
        ).format(tables.events)
        self._taken_keys = SQL(
            "SELECT tenant_id, key FROM {0}"
            " WHERE (tenant_id, key) IN (SELECT * FROM unnest(%s::text[], %s::text[]))"
        ).format(tables.receipts)
        # Receipts take the position of their command's last event, in the same statement.
        self._insert = SQL(
            "WITH inserted AS ("
            " INSERT INTO {0} (originator_id, originator_version, topic, state)"
            " SELECT * FROM unnest(%s::uuid[], %s::bigint[], %s::text[], %s::bytea[])"
            " RETURNING originator_id, originator_version, notification_id),"
            " receipts AS ("
            " INSERT INTO {1} (tenant_id, key, fingerprint, result, position)"
            " SELECT r.tenant_id, r.key, r.fingerprint, r.result, i.notification_id"
            " FROM unnest(%s::text[], %s::text[], %s::text[], %s::jsonb[], %s::uuid[],"
            " %s::bigint[]) AS r(tenant_id, key, fingerprint, result, last_id, last_version)"
            " JOIN inserted i ON i.originator_id = r.last_id"
            " AND i.originator_version = r.last_version)"
            " SELECT originator_id, originator_version, notification_id FROM inserted"
        ).format(tables.events, tables.receipts)

    def write(self, commits: Sequence[PendingCommit]) -> list[Outcome]:
        """Write the commits in one transaction, in order; refuse only those that conflict.

        Conflicts are found under the table lock before anything is inserted, so a refused
        commit takes no position, and positions stay dense and in commit order.
        """
        try:
            with self._connected() as conn, conn.pipeline(), conn.transaction():
                outcomes = self._screen(conn, commits)
                accepted = [c for c, o in zip(commits, outcomes, strict=True) if o is None]
                inserted = self._insert_rows(conn, accepted) if accepted else None
            ids = {
                (r["originator_id"], r["originator_version"]): r["notification_id"]
                for r in inserted or ()
            }
        except psycopg.errors.UniqueViolation as error:
            if len(commits) > 1:
                raise
            return [refusal(error)]  # a writer that bypassed the lock got there first
        positions = iter([ids[key] for key in c.keys] for c in accepted)
        return [o if o is not None else next(positions) for o in outcomes]

    def _screen(
        self, conn: psycopg.Connection[DictRow], commits: Sequence[PendingCommit]
    ) -> list[Outcome | None]:
        """Under the table lock: each commit's refusal, or None when it can be written.

        A commit is refused when one of its versions or its idempotency key is already
        stored, or is claimed by an earlier commit of the same batch.
        """
        for statement in self._lock:
            conn.execute(statement)
        rows = [e for c in commits for e in c.events]
        taken_versions = conn.execute(
            self._taken_versions,
            ([e.originator_id for e in rows], [e.originator_version for e in rows]),
        )
        receipts = [c.receipt for c in commits if c.receipt is not None]
        taken_keys = conn.execute(
            self._taken_keys, ([r.tenant_id for r in receipts], [r.key for r in receipts])
        )
        versions = {(r["originator_id"], r["originator_version"]) for r in taken_versions}
        keys = {(r["tenant_id"], r["key"]) for r in taken_keys}
        outcomes: list[Outcome | None] = []
        for commit in commits:
            mine = set(commit.keys)
            key = (commit.receipt.tenant_id, commit.receipt.key) if commit.receipt else None
            if key in keys:
                outcomes.append(DuplicateReceipt("the idempotency key was used concurrently"))
            elif mine & versions:
                outcomes.append(ConcurrencyConflict("the aggregate was changed concurrently"))
            else:
                outcomes.append(None)
                versions |= mine
                if key is not None:
                    keys.add(key)
        return outcomes

    def _insert_rows(
        self, conn: psycopg.Connection[DictRow], commits: Sequence[PendingCommit]
    ) -> psycopg.Cursor[DictRow]:
        """Queue the insert of the events and receipts; its rows are read after the commit."""
        conn.execute(self._notify)
        rows = [e for c in commits for e in c.events]
        receipts = [(c.receipt, c.keys[-1]) for c in commits if c.receipt is not None]
        return conn.execute(
            self._insert,
            (
                [e.originator_id for e in rows],
                [e.originator_version for e in rows],
                [e.topic for e in rows],
                [e.state for e in rows],
                [r.tenant_id for r, _ in receipts],
                [r.key for r, _ in receipts],
                [r.fingerprint for r, _ in receipts],
                [Jsonb(r.result) for r, _ in receipts],
                [last[0] for _, last in receipts],
                [last[1] for _, last in receipts],
            ),
        )

    @contextmanager
    def _connected(self) -> Iterator[psycopg.Connection[DictRow]]:
        """The writer's own connection, returned to the pool (which drops it) on an error."""
        conn, self._connection = self._connection or self._pool.getconn(), None
        try:
            yield conn
        except BaseException:
            self._pool.putconn(conn)
            raise
        self._connection = conn

    def close(self) -> None:
        if self._connection is not None:
            self._pool.putconn(self._connection)
            self._connection = None


def refusal(error: psycopg.errors.UniqueViolation) -> Exception:
    """The application error for a unique violation of the log or of the receipts."""
    if error.diag.table_name and error.diag.table_name.endswith("receipts"):
        return DuplicateReceipt(str(error))
    return ConcurrencyConflict("the aggregate was changed concurrently")
