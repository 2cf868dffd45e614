"""Where read models live: one schema per projection generation, stable views in ``rm``,
and the projections' shared state (live generation, checkpoints, parked events).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

import psycopg
from psycopg import Connection
from psycopg.rows import dict_row
from psycopg.sql import SQL, Composed, Identifier
from psycopg_pool import ConnectionPool

from domain.events import RecordedEvent
from infrastructure.pools import recover_quickly
from projections.base import READ_SCHEMA, AddedColumn, NullableColumn, Projection
from projections.events import Event

if TYPE_CHECKING:  # the log's reader builds on this module's pools
    from infrastructure.event_log import LogReader

T = TypeVar("T")
Conn = Connection[dict[str, Any]]
# A projection's typed event from a row's columns: position, aggregate id, version, topic,
# stored state, tenant.
ValuesDecoder = Callable[[int, UUID, int, str, bytes, str], Event]

STATE_DDL = (
    "CREATE SCHEMA IF NOT EXISTS rm",
    "CREATE TABLE IF NOT EXISTS chronicle_projections ("
    " name text PRIMARY KEY, generation integer NOT NULL,"
    " state text NOT NULL DEFAULT 'running', error text, error_position bigint,"
    " rebuilding integer, heartbeat_at timestamptz,"
    " updated_at timestamptz NOT NULL DEFAULT now())",
    "CREATE TABLE IF NOT EXISTS chronicle_checkpoints ("
    " name text NOT NULL, generation integer NOT NULL, position bigint NOT NULL DEFAULT 0,"
    " updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (name, generation))",
    # Events a projection could not apply, and those of the same aggregate behind them
    # (error NULL); see infrastructure/parking.py.
    "CREATE TABLE IF NOT EXISTS chronicle_parked ("
    " name text NOT NULL, generation integer NOT NULL, position bigint NOT NULL,"
    " aggregate_id uuid NOT NULL, tenant_id text NOT NULL, error_class text, error text,"
    " parked_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (name, generation, position))",
    "CREATE INDEX IF NOT EXISTS chronicle_parked_aggregate"
    " ON chronicle_parked (name, generation, aggregate_id, position)",
)
SETUP_LOCK = 0x43_48_52_4F  # advisory lock key for schema setup ("CHRO")


def schema_of(name: str, generation: int) -> str:
    return f"rm_{name}_g{generation}"


def connect(dsn: str) -> Conn:
    return psycopg.connect(dsn, row_factory=dict_row, autocommit=True)


@contextmanager
def setup_locked(dsn: str) -> Iterator[Conn]:
    """Hold the schema setup lock (on a connection of its own, which it yields) for setup
    that spans several transactions: processes started together on a fresh database, as
    ``docker compose up`` starts them, would otherwise race in ``CREATE … IF NOT EXISTS``
    and all but one fail on a unique index of the catalog."""
    with connect(dsn) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (SETUP_LOCK,))
        yield conn  # the lock goes with the connection


def scalar(conn: Conn, query: Any, params: tuple[Any, ...] = ()) -> Any:
    """The first column of the first row, or None."""
    row = conn.execute(query, params).fetchone()
    return None if row is None else next(iter(row.values()))


def is_index(statement: str) -> bool:
    return statement.lstrip().upper().startswith(("CREATE INDEX", "CREATE UNIQUE INDEX"))


def create_generation(
    conn: Conn, projection: Projection, generation: int, *, indexes: bool = True
) -> None:
    """A fresh, empty schema with the projection's tables (replacing a leftover one).

    A rebuild leaves out secondary indexes and adds them after the bulk load.
    """
    schema = Identifier(schema_of(projection.name, generation))
    conn.execute(SQL("DROP SCHEMA IF EXISTS {0} CASCADE").format(schema))
    conn.execute(SQL("CREATE SCHEMA {0}").format(schema))
    for statement in projection.ddl():
        if indexes or not is_index(statement):
            conn.execute(SQL(statement).format(schema=schema))
    conn.execute(
        "INSERT INTO chronicle_checkpoints (name, generation, position) VALUES (%s, %s, 0)"
        " ON CONFLICT (name, generation) DO UPDATE SET position = 0",
        (projection.name, generation),
    )
    conn.execute(
        "DELETE FROM chronicle_parked WHERE name = %s AND generation = %s",
        (projection.name, generation),
    )


def create_indexes(conn: Conn, projection: Projection, generation: int) -> None:
    schema = Identifier(schema_of(projection.name, generation))
    for statement in projection.ddl():
        if is_index(statement):
            conn.execute(SQL(statement).format(schema=schema))


def point_views(conn: Conn, projection: Projection, generation: int) -> None:
    """Make ``rm.<table>`` show the given generation (inside the caller's transaction)."""
    schema = Identifier(schema_of(projection.name, generation))
    for table in projection.tables:
        view = SQL("{0}.{1}").format(Identifier(READ_SCHEMA), Identifier(table))
        conn.execute(SQL("DROP VIEW IF EXISTS {0}").format(view))
        conn.execute(
            SQL("CREATE VIEW {0} AS SELECT * FROM {1}.{2}").format(view, schema, Identifier(table))
        )


def ensure_projections(dsn: str, projections: Iterable[Projection]) -> None:
    """Create the state tables, and generation 1 of every projection not yet set up;
    add the columns a projection's tables gained to its existing generations, and let
    those that may now be NULL be."""
    with connect(dsn) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (SETUP_LOCK,))
        for statement in STATE_DDL:
            conn.execute(statement)
        for projection in projections:
            exists = conn.execute(
                "SELECT 1 FROM chronicle_projections WHERE name = %s", (projection.name,)
            ).fetchone()
            if exists:
                add_columns(conn, projection)
                relax_columns(conn, projection)
                continue
            create_generation(conn, projection, 1)
            point_views(conn, projection, 1)
            conn.execute(
                "INSERT INTO chronicle_projections (name, generation) VALUES (%s, 1)",
                (projection.name,),
            )


def add_columns(conn: Conn, projection: Projection) -> None:
    """Add the projection's `added_columns` to each generation that lacks them (with their
    defaults), and show them in the views of the live one. Looks before it alters: an
    ALTER TABLE would wait for every reader of the table even when there is nothing to do."""
    if not projection.added_columns:
        return
    live = scalar(
        conn, "SELECT generation FROM chronicle_projections WHERE name = %s", (projection.name,)
    )
    generations = conn.execute(
        "SELECT generation FROM chronicle_checkpoints WHERE name = %s", (projection.name,)
    ).fetchall()
    for generation in (row["generation"] for row in generations):
        schema = schema_of(projection.name, generation)
        missing = [column for column in projection.added_columns if lacks(conn, schema, column)]
        for column in missing:
            conn.execute(
                SQL("ALTER TABLE {0}.{1} ADD COLUMN IF NOT EXISTS {2} {3}").format(
                    Identifier(schema),
                    Identifier(column.table),
                    Identifier(column.name),
                    SQL(column.definition),
                )
            )
        if missing and generation == live:
            point_views(conn, projection, generation)


def relax_columns(conn: Conn, projection: Projection) -> None:
    """Drop the NOT NULL of the projection's `nullable_columns` in each generation that
    still has it: a change of the catalog, no table rewrite, and the views (``SELECT *``)
    need no change. Looks before it alters, as `add_columns` does."""
    if not projection.nullable_columns:
        return
    generations = conn.execute(
        "SELECT generation FROM chronicle_checkpoints WHERE name = %s", (projection.name,)
    ).fetchall()
    for generation in (row["generation"] for row in generations):
        schema = schema_of(projection.name, generation)
        for column in projection.nullable_columns:
            if not_null(conn, schema, column):
                conn.execute(
                    SQL("ALTER TABLE {0}.{1} ALTER COLUMN {2} DROP NOT NULL").format(
                        Identifier(schema), Identifier(column.table), Identifier(column.name)
                    )
                )


def not_null(conn: Conn, schema: str, column: NullableColumn) -> bool:
    """Whether the schema's table has the column, NOT NULL."""
    return bool(
        scalar(
            conn,
            "SELECT EXISTS (SELECT FROM information_schema.columns WHERE table_schema = %s"
            " AND table_name = %s AND column_name = %s AND is_nullable = 'NO')",
            (schema, column.table, column.name),
        )
    )


def lacks(conn: Conn, schema: str, column: AddedColumn) -> bool:
    """Whether the schema's table exists without the column."""
    return bool(
        scalar(
            conn,
            "SELECT to_regclass(format('%%I.%%I', %s::text, %s::text)) IS NOT NULL"
            " AND NOT EXISTS (SELECT FROM information_schema.columns WHERE table_schema = %s"
            " AND table_name = %s AND column_name = %s)",
            (schema, column.table, schema, column.table, column.name),
        )
    )


@dataclass(frozen=True)
class ProjectionStatus:
    name: str
    generation: int
    position: int
    head: int
    lag: int
    lag_seconds: float
    state: str
    error: str | None
    error_position: int | None
    rebuilding: int | None
    heartbeat_at: datetime | None
    parked: int  # events parked in the live generation


STALE_AFTER_SECONDS = 15


@dataclass(frozen=True)
class Lag:
    """A follower's checkpoint against the log's head: the events after it, and the age
    of the oldest of them (0 when caught up)."""

    position: int
    events: int
    seconds: float


def lag_of(conn: Conn, events: LogReader[RecordedEvent], position: int, head: int) -> Lag:
    """The lag of a follower at ``position``; its seconds are now minus the time the
    first event it has not handled was recorded."""
    behind = max(0, head - position)
    seconds = 0.0
    if behind and (oldest := events.events(events.read(conn, position, 1))):
        seconds = max(0.0, (datetime.now(UTC) - oldest[0].recorded_at).total_seconds())
    return Lag(position, behind, round(seconds, 3))


def projection_statuses(
    conn: Conn, events: LogReader[RecordedEvent], head: int | None = None
) -> list[ProjectionStatus]:
    """Each projection's position against the head of the log (read, unless given), and
    its state.

    ``state`` is ``stopped`` (at a poison event, by a version before parking), ``idle``
    (no projector seen lately) or ``running``; ``parked`` counts the events it set aside.
    """
    head = events.head(conn) if head is None else head
    rows = conn.execute(
        SQL(
            "SELECT p.name, p.generation, c.position, p.state, p.error, p.error_position,"
            " p.rebuilding, p.heartbeat_at,"
            " extract(epoch FROM now() - p.heartbeat_at) AS silent,"
            " (SELECT count(*) FROM chronicle_parked k"
            "  WHERE k.name = p.name AND k.generation = p.generation) AS parked"
            " FROM chronicle_projections p JOIN chronicle_checkpoints c"
            " ON c.name = p.name AND c.generation = p.generation ORDER BY p.name"
        )
    ).fetchall()
    statuses = []
    for row in rows:
        lag = lag_of(conn, events, row["position"], head)
        state = row["state"]
        if state == "running" and (row["silent"] is None or row["silent"] > STALE_AFTER_SECONDS):
            state = "idle"
        statuses.append(
            ProjectionStatus(
                name=row["name"],
                generation=row["generation"],
                position=row["position"],
                head=head,
                lag=lag.events,
                lag_seconds=lag.seconds,
                state=state,
                error=row["error"],
                error_position=row["error_position"],
                rebuilding=row["rebuilding"],
                heartbeat_at=row["heartbeat_at"],
                parked=row["parked"],
            )
        )
    return statuses


def reader_pool(dsn: str, max_size: int) -> ConnectionPool[Conn]:
    """Autocommit connections returning dict rows, checked before each use."""
    pool: ConnectionPool[Conn] = ConnectionPool(
        dsn,
        min_size=1,
        max_size=max_size,
        kwargs={"row_factory": dict_row, "autocommit": True},
        open=True,
    )
    return recover_quickly(pool)  # a restarted server leaves dead ones


class ReadStore:
    """Queries over read models, each with the position its snapshot has reached."""

    def __init__(self, dsn: str, max_size: int = 8) -> None:
        self.pool = reader_pool(dsn, max_size)

    def close(self) -> None:
        self.pool.close()

    @contextmanager
    def _snapshot(self) -> Iterator[Conn]:
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield conn

    def position(self, names: tuple[str, ...]) -> int:
        with self._snapshot() as conn:
            return self._position(conn, names)

    def query(self, names: tuple[str, ...], run: Callable[[Conn], T]) -> tuple[T, int]:
        """``run`` over one consistent snapshot, and the position that snapshot reflects."""
        with self._snapshot() as conn:
            return run(conn), self._position(conn, names)

    def statuses(self, events: LogReader[RecordedEvent]) -> list[ProjectionStatus]:
        with self._snapshot() as conn:
            return projection_statuses(conn, events)

    def read(self, run: Callable[[Conn], T]) -> T:
        """``run`` over one consistent, read-only snapshot."""
        with self._snapshot() as conn:
            return run(conn)

    @staticmethod
    def _position(conn: Conn, names: tuple[str, ...]) -> int:
        row = conn.execute(
            "SELECT min(c.position) AS position FROM chronicle_projections p"
            " JOIN chronicle_checkpoints c ON c.name = p.name AND c.generation = p.generation"
            " WHERE p.name = ANY(%s)",
            (list(names),),
        ).fetchone()
        return int(row["position"]) if row and row["position"] is not None else 0


def compose(sql: str, schema: str, cache: dict[tuple[str, str], Composed]) -> Composed:
    """A projection statement with its ``{schema}`` filled in (cached)."""
    key = (sql, schema)
    composed = cache.get(key)
    if composed is None:
        composed = cache[key] = SQL(sql).format(schema=Identifier(schema))
    return composed
