"""Writes a group commit: many commands' events and receipts in one PostgreSQL transaction.

Only writes what it is given, in order; batching and waiting belong to `GroupCommit`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

import psycopg
import psycopg.errors
from eventsourcing.persistence import StoredEvent
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composable, Composed, Identifier, Literal
from psycopg.types.json import Jsonb

from application.errors import ConcurrencyConflict, DuplicateReceipt, StoreUnavailable
from infrastructure.event_columns import TYPE_OF_TOPIC
from infrastructure.metrics import record_batch
from infrastructure.subject_keys import ERASE_KEYS, INSERT_KEYS, NewKey, key_rows

Outcome = list[int] | Exception  # a commit's positions, or why it was refused
Answer = tuple[int, int | None, str | None]  # a round's row: member, position, refusal
AnyConnection = psycopg.Connection[Any] | psycopg.AsyncConnection[Any]
PARAMETERS = (  # the append function's array parameters, in order, with their types
    ("members", "int[]"),
    ("ids", "uuid[]"),
    ("versions", "bigint[]"),
    ("topics", "text[]"),
    ("states", "bytea[]"),
    ("event_tenants", "text[]"),
    ("rounds", "int[]"),
    ("receipt_members", "int[]"),
    ("tenants", "text[]"),
    ("keys", "text[]"),
    ("fingerprints", "text[]"),
    ("results", "jsonb[]"),
    ("last_ids", "uuid[]"),
    ("last_versions", "bigint[]"),
)
CONNECT_TIMEOUT_SECONDS = 10
WRITER_NAME = "chronicle-writer"  # the application_name of the writer's connection
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
    """One command's stored events and receipt, waiting to be written in a group commit,
    the tenant of the command (``None``: the one its events' metadata names), the data
    keys its sealed values need that are not stored yet (written first), and the data
    subjects it erases, as (tenant, subject), whose keys go in the same transaction."""

    events: Sequence[StoredEvent]
    receipt: PendingReceipt | None = None
    tenant_id: str | None = None
    new_keys: Sequence[NewKey] = ()
    erased: Sequence[tuple[str, str]] = ()

    @property
    def keys(self) -> list[tuple[UUID, int]]:
        """The (aggregate id, version) of each event, the log's primary key."""
        return [(e.originator_id, e.originator_version) for e in self.events]  # type: ignore[misc]


class Tables(Protocol):
    """What the writer needs to know of the recorder: its tables, its lock and channel."""

    @property
    def events(self) -> Composable: ...
    @property
    def receipts(self) -> Composable: ...
    @property
    def append_function(self) -> Composable: ...
    @property
    def channel_name(self) -> str: ...
    @property
    def lock_table_statements(self) -> list[Any]: ...


class BatchStatements:
    """The SQL of a group commit: one call of a function that writes a batch's rounds."""

    def __init__(self, tables: Tables) -> None:
        self._tables = tables
        casts = SQL(", ").join(SQL("%b::" + kind) for _, kind in PARAMETERS)
        self.call = SQL("SELECT * FROM {0}({1}, %b::int)").format(tables.append_function, casts)
        # A batch with new data keys writes them, and one with erasures destroys keys, in
        # the same statement and transaction as its events.
        new_keys = SQL("new_keys AS ({0})").format(SQL(INSERT_KEYS.replace("%s", "%b")))
        self._calls = {
            (keys, erasures): SQL("WITH {0} {1}").format(
                SQL(", ").join([new_keys] * keys + [SQL(ERASE_KEYS)] * erasures), self.call
            )
            for keys in (False, True)
            for erasures in (False, True)
            if keys or erasures
        }

    def call_with(self, commits: Sequence[PendingCommit]) -> tuple[Composed, list[Any]]:
        """The statement writing ``commits`` and its parameters."""
        params = self.params(commits)
        keys = [key for commit in commits for key in commit.new_keys]
        erased = [named for commit in commits for named in commit.erased]
        if not keys and not erased:
            return self.call, params
        before = key_rows(keys) if keys else []
        if erased:
            before += [[tenant for tenant, _ in erased], [subject for _, subject in erased]]
        return self._calls[bool(keys), bool(erased)], before + params

    def function(self) -> Composed:
        """The function that writes a batch in one transaction, round by round.

        It takes the table lock first, so positions follow commit order and the screens
        of each round see every earlier commit (each statement of a function takes a new
        snapshot); a refused commit takes no position, so positions stay dense. Called
        with binary parameters as one statement, a batch costs one round trip and nothing
        is parsed under the lock (docs/decisions/0002).
        """
        arguments = SQL(", ").join(
            SQL("{0} {1}").format(Identifier(f"p_{name}"), SQL(kind)) for name, kind in PARAMETERS
        )
        return SQL(
            "CREATE OR REPLACE FUNCTION {function}({arguments}, p_round_count int)"
            " RETURNS TABLE (answer_member int, answer_position bigint, answer_refusal text)"
            " LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $chronicle$"
            " DECLARE r int; BEGIN {lock}; PERFORM pg_notify({channel}, '');"
            " FOR r IN 0 .. p_round_count - 1 LOOP RETURN QUERY {round}; END LOOP; END"
            " $chronicle$"
        ).format(
            function=self._tables.append_function,
            arguments=arguments,
            lock=SQL("; ").join(self._tables.lock_table_statements),
            channel=Literal(self._tables.channel_name),
            round=self._round(**{name: SQL(f"p_{name}") for name, _ in PARAMETERS}, round=SQL("r")),
        )

    def round_text(self, conn: AnyConnection) -> str:
        """A round as a statement with numbered parameters, as EXPLAIN takes it."""
        numbered = {
            name: SQL(f"${number}::{kind}") for number, (name, kind) in enumerate(PARAMETERS, 1)
        }
        return self._round(**numbered, round=SQL(f"${len(PARAMETERS) + 1}::int")).as_string(conn)

    def _round(self, **values: Composable) -> Composable:
        """One round: screen its commits against the log and the receipts, and insert the
        events and receipts of the rest. Each event's row takes its command's tenant (where
        none is given, the fill trigger of `EventColumns` reads it from the metadata) and
        the type its topic names.

        Each receipt takes the position of its command's last event. The screens are
        LATERAL lookups with a LIMIT, so the cached generic plan probes the primary keys
        row by row whatever the table's statistics (docs/decisions/0003). A commit whose every
        event is already in the log byte for byte (its metadata names the command, its
        timestamp the moment) was written before: a retry after a lost answer. It is
        answered with its positions, not refused as a conflict.
        """
        return SQL(
            "WITH ev AS (SELECT m, id, v, topic, state, tenant, n, existing, same"
            " FROM unnest({members}, {ids}, {versions}, {topics}, {states}, {event_tenants},"
            " {rounds}) WITH ORDINALITY AS e(m, id, v, topic, state, tenant, rnd, n)"
            " LEFT JOIN LATERAL (SELECT t.notification_id AS existing, t.state = e.state AS same"
            " FROM {events} t WHERE t.originator_id = e.id AND t.originator_version = e.v"
            " LIMIT 1) l ON true WHERE e.rnd = {round}),"
            " rewritten AS (SELECT m FROM ev GROUP BY m HAVING bool_and(same IS TRUE)),"
            " rc AS (SELECT q.*, taken FROM unnest({receipt_members}, {tenants}, {keys},"
            " {fingerprints}, {results}, {last_ids}, {last_versions})"
            " AS q(m, tenant_id, key, fingerprint, result, last_id, last_v)"
            " LEFT JOIN LATERAL (SELECT true AS taken FROM {receipts} t"
            " WHERE t.tenant_id = q.tenant_id AND t.key = q.key LIMIT 1) l ON true"
            " WHERE q.m IN (SELECT m FROM ev)),"
            " refused AS ("
            " SELECT m, 'conflict' AS why FROM ev WHERE existing IS NOT NULL"
            " AND m NOT IN (SELECT m FROM rewritten)"
            " UNION SELECT m, 'duplicate' FROM rc WHERE taken"
            " AND m NOT IN (SELECT m FROM rewritten)),"
            " inserted AS ("
            " INSERT INTO {events} (originator_id, originator_version, topic, state,"
            " tenant_id, type) SELECT id, v, topic, state, tenant, {type}"
            " FROM ev WHERE m NOT IN (SELECT m FROM refused)"
            " AND m NOT IN (SELECT m FROM rewritten)"
            " ORDER BY n RETURNING originator_id, originator_version, notification_id),"
            " receipts AS ("
            " INSERT INTO {receipts} (tenant_id, key, fingerprint, result, position)"
            " SELECT rc.tenant_id, rc.key, rc.fingerprint, rc.result, i.notification_id"
            " FROM rc JOIN inserted i ON i.originator_id = rc.last_id"
            " AND i.originator_version = rc.last_v)"
            " SELECT ev.m, i.notification_id, NULL::text FROM inserted i"
            " JOIN ev ON ev.id = i.originator_id AND ev.v = i.originator_version"
            " UNION ALL SELECT m, existing, NULL FROM ev WHERE m IN (SELECT m FROM rewritten)"
            " UNION ALL SELECT m, NULL, max(why) FROM refused GROUP BY m"
        ).format(
            events=self._tables.events,
            receipts=self._tables.receipts,
            type=SQL(TYPE_OF_TOPIC).format(topic=SQL("topic")),
            **values,
        )

    def params(self, commits: Sequence[PendingCommit]) -> list[Any]:
        """The call's parameters for ``commits``, in rounds (see `rounds`): a commit that
        touches an aggregate or an idempotency key of an earlier commit goes in a later
        round, which sees the earlier rounds' rows."""
        batch = rounds(commits)
        round_of = {m: number for number, members in enumerate(batch) for m in members}
        members: list[int] = []
        ids: list[UUID] = []
        versions: list[int] = []
        topics: list[str] = []
        states: list[bytes] = []
        tenants: list[str | None] = []
        event_rounds: list[int] = []
        for m, commit in enumerate(commits):
            number, tenant = round_of[m], commit.tenant_id
            for e in commit.events:
                members.append(m)
                ids.append(e.originator_id)  # type: ignore[arg-type]
                versions.append(e.originator_version)
                topics.append(e.topic)
                states.append(e.state)
                tenants.append(tenant)
                event_rounds.append(number)
        receipts = [(m, c, c.receipt) for m, c in enumerate(commits) if c.receipt is not None]
        return [
            members,
            ids,
            versions,
            topics,
            states,
            tenants,
            event_rounds,
            [m for m, _, _ in receipts],
            [r.tenant_id for _, _, r in receipts],
            [r.key for _, _, r in receipts],
            [r.fingerprint for _, _, r in receipts],
            [Jsonb(r.result) for _, _, r in receipts],
            [c.keys[-1][0] for _, c, _ in receipts],
            [c.keys[-1][1] for _, c, _ in receipts],
            len(batch),
        ]


class BatchWriter:
    """Writes batches of commits for the group commit, on a connection of its own that the
    loop awaits: the loop goes on deciding commands while the database writes."""

    def __init__(self, conninfo: str, tables: Tables) -> None:
        self._conninfo = conninfo
        self._connection: psycopg.AsyncConnection[Any] | None = None
        self.statements = BatchStatements(tables)

    async def write(self, commits: Sequence[PendingCommit]) -> list[Outcome]:
        """Write the commits in one transaction, in order; refuse only those that conflict
        (see `BatchStatements.function`). Raises `StoreUnavailable` when the database cannot
        be reached: the writer's kept connection, found broken (a restarted server, an
        idle timeout), is replaced once first (had the batch committed before the break,
        the append function answers it with its positions)."""
        kept = self._connection is not None
        try:
            return await self._write(commits)
        except StoreUnavailable:
            if not kept:
                raise
        return await self._write(commits)

    async def _write(self, commits: Sequence[PendingCommit]) -> list[Outcome]:
        try:
            conn = self._connection or await self._connect()
            async with conn.cursor(row_factory=tuple_row) as cursor:
                # In the events' transaction: a value is never in the log without its key
                # (a key of a refused commit is harmless), and keys go with their erasure
                # (a refused erasure conflicted with another erasure of its subject).
                call, params = self.statements.call_with(commits)
                began = time.perf_counter()
                await cursor.execute(call, params, prepare=True)
                rows: list[Answer] = await cursor.fetchall()
        except BaseException as error:
            await self.aclose()  # a cancelled call leaves the connection busy
            if isinstance(error, psycopg.errors.UniqueViolation):
                return refused_alone(commits, error)
            if unreachable(error):
                raise StoreUnavailable(UNREACHABLE) from error
            raise
        done = outcomes(commits, rows)
        record_batch(commits, done, time.perf_counter() - began)
        return done

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        self._connection = await psycopg.AsyncConnection.connect(
            self._conninfo,
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            application_name=WRITER_NAME,
        )
        return self._connection

    async def aclose(self) -> None:
        conn, self._connection = self._connection, None
        if conn is not None:
            await conn.close()


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
