"""Writes a group commit: many commands' events and receipts in one PostgreSQL transaction.

Only writes what it is given, in order; batching and waiting belong to `GroupCommit`.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol
from uuid import UUID

import psycopg
import psycopg.errors
from eventsourcing.persistence import StoredEvent
from psycopg.rows import DictRow, tuple_row
from psycopg.sql import SQL, Composable
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from application.errors import ConcurrencyConflict, DuplicateReceipt, StoreUnavailable

Outcome = list[int] | Exception  # a commit's positions, or why it was refused
Answer = tuple[int, int | None, str | None]  # a round's row: member, position, refusal
AnyConnection = psycopg.Connection[Any] | psycopg.AsyncConnection[Any]
ROUND_STATEMENT = "chronicle_round"
CONNECT_TIMEOUT_SECONDS = 10
LOOP_WRITER_NAME = "chronicle-loop-writer"  # the application_name of a loop's connection
UNREACHABLE = (
    "the database could not be reached; a command that was being written may have"
    " committed: retry it with the same Idempotency-Key"
)


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


class BatchStatements:
    """The SQL of a group commit: a transaction of rounds, each one prepared statement."""

    def __init__(self, tables: Tables) -> None:
        self._transactions: dict[int, str] = {}
        self._lock = tables.lock_table_statements
        self._notify = SQL("NOTIFY {0}").format(psycopg.sql.Identifier(tables.channel_name))
        # One statement screens a round of commits against the log and the receipts (under
        # the table lock, taken before it) and inserts the events and receipts of the rest.
        # Each receipt takes the position of its command's last event. The screens are
        # LATERAL lookups with a LIMIT, so the cached generic plan probes the primary keys
        # row by row: planned on a young table's statistics, a join was planned as a scan
        # of the whole log (or of every receipt) in every transaction. A commit whose every
        # event is already in the log byte for byte (its metadata names the command, its
        # timestamp the moment) was written before: a retry after a lost answer. It is
        # answered with its positions, not refused as a conflict.
        self._round = SQL(
            "WITH ev AS (SELECT m, id, v, topic, decode(state, 'hex') AS state, n, existing,"
            " same FROM unnest(%s::int[], %s::uuid[], %s::bigint[], %s::text[], %s::text[])"
            " WITH ORDINALITY AS e(m, id, v, topic, state, n)"
            " LEFT JOIN LATERAL (SELECT t.notification_id AS existing,"
            " t.state = decode(e.state, 'hex') AS same FROM {0} t"
            " WHERE t.originator_id = e.id AND t.originator_version = e.v LIMIT 1) l ON true),"
            " rewritten AS (SELECT m FROM ev GROUP BY m HAVING bool_and(same IS TRUE)),"
            " rc AS (SELECT r.*, taken FROM unnest(%s::int[], %s::text[], %s::text[],"
            " %s::text[], %s::jsonb[], %s::uuid[], %s::bigint[])"
            " AS r(m, tenant_id, key, fingerprint, result, last_id, last_v)"
            " LEFT JOIN LATERAL (SELECT true AS taken FROM {1} t"
            " WHERE t.tenant_id = r.tenant_id AND t.key = r.key LIMIT 1) l ON true),"
            " refused AS ("
            " SELECT m, 'conflict' AS why FROM ev WHERE existing IS NOT NULL"
            " AND m NOT IN (SELECT m FROM rewritten)"
            " UNION SELECT m, 'duplicate' FROM rc WHERE taken"
            " AND m NOT IN (SELECT m FROM rewritten)),"
            " inserted AS ("
            " INSERT INTO {0} (originator_id, originator_version, topic, state)"
            " SELECT id, v, topic, state FROM ev WHERE m NOT IN (SELECT m FROM refused)"
            " AND m NOT IN (SELECT m FROM rewritten)"
            " ORDER BY n RETURNING originator_id, originator_version, notification_id),"
            " receipts AS ("
            " INSERT INTO {1} (tenant_id, key, fingerprint, result, position)"
            " SELECT rc.tenant_id, rc.key, rc.fingerprint, rc.result, i.notification_id"
            " FROM rc JOIN inserted i ON i.originator_id = rc.last_id"
            " AND i.originator_version = rc.last_v)"
            " SELECT ev.m, i.notification_id, NULL AS why FROM inserted i"
            " JOIN ev ON ev.id = i.originator_id AND ev.v = i.originator_version"
            " UNION ALL SELECT m, existing, NULL FROM ev WHERE m IN (SELECT m FROM rewritten)"
            " UNION ALL SELECT m, NULL, max(why) FROM refused GROUP BY m"
        ).format(tables.events, tables.receipts)

    def query(self, conn: AnyConnection, commits: Sequence[PendingCommit]) -> tuple[str, list[Any]]:
        """The transaction that writes ``commits`` in order, and its parameters.

        Conflicts are found under the table lock by the statement that inserts, so a
        refused commit takes no position, and positions stay dense and in commit order.
        Commits that touch an aggregate or an idempotency key of an earlier commit go in
        a later round (statement) of the same transaction, which sees the earlier rounds.
        The whole transaction goes as one query (one round trip, one wait: a pipeline of
        its seven statements waited on the socket nine times), and the round is a
        statement prepared once per connection: planning it took longer than running it.
        """
        batch = rounds(commits)
        params = [value for members in batch for value in self._params(commits, members)]
        return self._transaction(conn, len(batch)), params

    def _transaction(self, conn: AnyConnection, round_count: int) -> str:
        """The text of a transaction of ``round_count`` rounds, with placeholders."""
        if (text := self._transactions.get(round_count)) is None:
            preamble = [
                "BEGIN",
                "SET LOCAL plan_cache_mode = force_generic_plan",
                *(statement.as_string(conn) for statement in [*self._lock, self._notify]),
            ]
            placeholders = ", ".join(["%s"] * self._round.as_string(conn).count("%s"))
            execute = f"EXECUTE {ROUND_STATEMENT}({placeholders})"
            text = "; ".join([*preamble, *[execute] * round_count, "COMMIT"])
            self._transactions[round_count] = text
        return text

    def prepare(self, conn: AnyConnection) -> str:
        """The statement that prepares the round on a connection."""
        return f"PREPARE {ROUND_STATEMENT} AS {self.round_text(conn)}"

    def round_text(self, conn: AnyConnection) -> str:
        """The round statement with numbered parameters, as PREPARE (and EXPLAIN) take it."""
        number = itertools.count(1)
        return re.sub("%s", lambda _: f"${next(number)}", self._round.as_string(conn))

    @staticmethod
    def _params(commits: Sequence[PendingCommit], members: list[int]) -> list[Any]:
        """The round's parameters. The events' columns go as array literals built here
        (ids, numbers, topics and hex hold nothing to escape): quoting every element
        through the driver cost the writer more than the rest of its work."""
        owners: list[str] = []
        ids: list[str] = []
        versions: list[str] = []
        topics: list[str] = []
        states: list[str] = []
        for m in members:
            owner = str(m)
            for e in commits[m].events:
                owners.append(owner)
                ids.append(e.originator_id.hex)  # type: ignore[union-attr]  # 32 hex digits
                versions.append(str(e.originator_version))
                topics.append(checked_topic(e.topic))
                states.append(e.state.hex())
        receipts = [(m, commits[m]) for m in members if commits[m].receipt is not None]
        return [
            array(owners),
            array(ids),
            array(versions),
            array(topics),
            array(states),
            [m for m, _ in receipts],
            [c.receipt.tenant_id for _, c in receipts if c.receipt],
            [c.receipt.key for _, c in receipts if c.receipt],
            [c.receipt.fingerprint for _, c in receipts if c.receipt],
            [Jsonb(c.receipt.result) for _, c in receipts if c.receipt],
            [c.keys[-1][0] for _, c in receipts],
            [c.keys[-1][1] for _, c in receipts],
        ]


class BatchWriter:
    """Writes batches of commits for threads, on one pooled connection of its own (one
    leader writes at a time)."""

    def __init__(self, pool: ConnectionPool[psycopg.Connection[DictRow]], tables: Tables) -> None:
        self._pool = pool
        self._connection: psycopg.Connection[DictRow] | None = None
        self.statements = BatchStatements(tables)

    def write(self, commits: Sequence[PendingCommit]) -> list[Outcome]:
        """Write the commits in one transaction, in order; refuse only those that conflict
        (see `BatchStatements.query`). Raises `StoreUnavailable` when the database cannot
        be reached: the writer's kept connection, found broken (a restarted server, an
        idle timeout), is replaced once first (had the batch committed before the break,
        the round statement answers it with its positions)."""
        kept = self._connection is not None
        try:
            return self._write(commits)
        except StoreUnavailable:
            if not kept:
                raise
        return self._write(commits)

    def _write(self, commits: Sequence[PendingCommit]) -> list[Outcome]:
        rows: list[Answer] = []
        try:
            with (
                self._connected() as conn,
                psycopg.ClientCursor(conn, row_factory=tuple_row) as cursor,
            ):
                cursor.execute(*self.statements.query(conn, commits))
                while True:
                    if cursor.description is not None:
                        rows.extend(cursor.fetchall())
                    if not cursor.nextset():
                        break
        except psycopg.errors.UniqueViolation as error:
            return refused_alone(commits, error)
        except (psycopg.OperationalError, psycopg.InterfaceError) as error:
            if unreachable(error):
                raise StoreUnavailable(UNREACHABLE) from error
            raise
        return outcomes(commits, rows)

    @contextmanager
    def _connected(self) -> Iterator[psycopg.Connection[DictRow]]:
        """The writer's own connection, returned to the pool (which drops it) on an error."""
        conn, self._connection = self._connection, None
        try:
            if conn is None:
                conn = self._pool.getconn()
                self._prepare(conn)
            yield conn
        except BaseException:
            if conn is not None:
                self._pool.putconn(conn)
            raise
        self._connection = conn

    def _prepare(self, conn: psycopg.Connection[DictRow]) -> None:
        """Prepare the round statement on ``conn`` unless it already is (pooled connections
        outlive writers)."""
        if not conn.execute(
            "SELECT FROM pg_prepared_statements WHERE name = %s", (ROUND_STATEMENT,)
        ).fetchone():
            conn.execute(self.statements.prepare(conn))

    def close(self) -> None:
        if self._connection is not None:
            self._pool.putconn(self._connection)
            self._connection = None


class LoopBatchWriter:
    """Writes batches of commits for one event loop, on a connection of its own that the
    loop awaits: the loop goes on deciding commands while the database writes."""

    def __init__(self, conninfo: str, tables: Tables) -> None:
        self._conninfo = conninfo
        self._connection: psycopg.AsyncConnection[Any] | None = None
        self.statements = BatchStatements(tables)

    async def write(self, commits: Sequence[PendingCommit]) -> list[Outcome]:
        """`BatchWriter.write`, awaited."""
        kept = self._connection is not None
        try:
            return await self._write(commits)
        except StoreUnavailable:
            if not kept:
                raise
        return await self._write(commits)

    async def _write(self, commits: Sequence[PendingCommit]) -> list[Outcome]:
        rows: list[Answer] = []
        try:
            conn = self._connection or await self._connect()
            async with psycopg.AsyncClientCursor(conn, row_factory=tuple_row) as cursor:
                await cursor.execute(*self.statements.query(conn, commits))
                while True:
                    if cursor.description is not None:
                        rows.extend(await cursor.fetchall())
                    if not cursor.nextset():
                        break
        except BaseException as error:
            await self.aclose()  # a failed transaction leaves the connection in it
            if isinstance(error, psycopg.errors.UniqueViolation):
                return refused_alone(commits, error)
            if unreachable(error):
                raise StoreUnavailable(UNREACHABLE) from error
            raise
        return outcomes(commits, rows)

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        conn = await psycopg.AsyncConnection.connect(
            self._conninfo,
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            application_name=LOOP_WRITER_NAME,
        )
        try:
            await conn.execute(self.statements.prepare(conn))
        except BaseException:
            await conn.close()
            raise
        self._connection = conn
        return conn

    async def aclose(self) -> None:
        conn, self._connection = self._connection, None
        if conn is not None:
            await conn.close()


TOPIC = re.compile(r"[\w.:]+")


def array(elements: Iterable[str]) -> str:
    """A PostgreSQL array literal of elements that need no quoting."""
    return "{" + ",".join(elements) + "}"


@lru_cache(maxsize=1024)
def checked_topic(topic: str) -> str:
    """A topic (``module:Qual.Name``), checked to need no quoting in an array literal."""
    if not TOPIC.fullmatch(topic):
        raise ValueError(f"unexpected characters in topic {topic!r}")
    return topic


def rounds(commits: Sequence[PendingCommit]) -> list[list[int]]:
    """Indexes of the commits in rounds: a commit goes in a round after every earlier
    commit that touches one of its aggregates or its idempotency key; within a round no
    two commits touch the same aggregate or key.
    """
    claimed = [claims(commit) for commit in commits]
    if len(set().union(*claimed)) == sum(len(c) for c in claimed):
        return [list(range(len(commits)))]  # the usual case: nothing shared
    placed: list[list[int]] = []
    last_round: dict[object, int] = {}
    for index, mine in enumerate(claimed):
        number = max((last_round[c] + 1 for c in mine if c in last_round), default=0)
        if number == len(placed):
            placed.append([])
        placed[number].append(index)
        last_round.update(dict.fromkeys(mine, number))
    return placed


def claims(commit: PendingCommit) -> set[object]:
    """The aggregates a commit writes, and its idempotency key."""
    claimed: set[object] = {event.originator_id for event in commit.events}
    if commit.receipt is not None:
        claimed.add((commit.receipt.tenant_id, commit.receipt.key))
    return claimed


def outcomes(commits: Sequence[PendingCommit], rows: Sequence[Answer]) -> list[Outcome]:
    """Each commit's positions in order, or its refusal, from the rounds' answers."""
    positions: list[list[int]] = [[] for _ in commits]
    refused: dict[int, Exception] = {}
    for member, position, why in rows:
        if why == "duplicate":
            refused[member] = DuplicateReceipt("the idempotency key was used concurrently")
        elif why is not None:
            refused[member] = ConcurrencyConflict("the aggregate was changed concurrently")
        elif position is not None:
            positions[member].append(position)
    done: list[Outcome] = []
    for index, commit in enumerate(commits):
        if index in refused:
            done.append(refused[index])
        elif len(positions[index]) == len(commit.events):
            done.append(sorted(positions[index]))
        else:
            done.append(RuntimeError(f"commit {index} was not answered in full"))
    return done


def unreachable(error: BaseException) -> bool:
    """Whether the error says the database could not be reached or the connection broke:
    no SQLSTATE, a connection exception, or a server shutting down."""
    return isinstance(error, (psycopg.OperationalError, psycopg.InterfaceError)) and (
        error.sqlstate is None or error.sqlstate.startswith(("08", "57P"))
    )


def refused_alone(
    commits: Sequence[PendingCommit], error: psycopg.errors.UniqueViolation
) -> list[Outcome]:
    """A lone commit refused by a unique index (a writer that bypassed the table lock got
    there first); in a batch, the error is re-raised so each member is tried alone."""
    if len(commits) > 1:
        raise error
    return [refusal(error)]


def refusal(error: psycopg.errors.UniqueViolation) -> Exception:
    """The application error for a unique violation of the log or of the receipts."""
    if error.diag.table_name and error.diag.table_name.endswith("receipts"):
        return DuplicateReceipt(str(error))
    return ConcurrencyConflict("the aggregate was changed concurrently")
