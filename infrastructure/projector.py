"""The projection engine: follows the log by global position and applies each event once.

Each batch reads events after the checkpoint, applies them, and moves the checkpoint in
one transaction, under a lock on the projection's row, so any number of projector
processes may run side by side. Live following uses LISTEN/NOTIFY with polling as the
fallback; a lost notification or a dropped connection only delays.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
import structlog
from psycopg import Cursor
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composed, Identifier
from psycopg.types.uuid import UUIDBinaryDumper

from infrastructure.event_store import EVENTS_TABLE
from infrastructure.read_models import (
    Conn,
    ValuesDecoder,
    compose,
    connect,
    create_generation,
    create_indexes,
    point_views,
    scalar,
    schema_of,
)
from projections.base import CopyInto, Projection, Statement

log = structlog.get_logger(__name__)

BATCH_SIZE = 1000
Prepared = list[tuple[int, list[Statement]]]  # each event's position and its statements
EventRow = tuple[int, UUID, int, str, bytes]  # position, aggregate id, version, topic, state
COPY_MIN_ROWS = 32  # shorter runs go faster as one pipelined executemany
POLL_SECONDS = 1.0
HEARTBEAT_SECONDS = 2.0
STOP_CHECK_SECONDS = 0.25
TRANSIENT = (psycopg.OperationalError, psycopg.InterfaceError)


class IdBinaryDumper(UUIDBinaryDumper):
    """A uuid column's binary value from a UUID or from its string (as event data has it)."""

    def dump(self, obj: UUID | str) -> bytes:
        if type(obj) is str:
            return bytes.fromhex(obj.replace("-", ""))
        return super().dump(obj)  # type: ignore[return-value,arg-type]


class PoisonEvent(Exception):
    """An event the projection cannot apply; the projection stops there."""

    def __init__(self, name: str, position: int, error: BaseException) -> None:
        super().__init__(f"{name} cannot apply the event at position {position}: {error}")
        self.position = position
        self.error = f"{type(error).__name__}: {error}"[:2000]


@dataclass
class Batch:
    read: int
    last_position: int


class ProjectionWriter:
    """Applies batches of events to one generation of one projection."""

    def __init__(self, projection: Projection, decode: ValuesDecoder) -> None:
        self.projection = projection
        self.decode = decode
        self._sql: dict[tuple[str, str], Composed] = {}
        self._copies: dict[tuple[str, CopyInto], tuple[Composed, list[int]]] = {}
        self._select = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state FROM {0}"
            " WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
        ).format(Identifier(EVENTS_TABLE))
        types = projection.event_types
        self._wanted: Callable[[str], bool] = (
            (lambda topic: True)
            if types is None
            else (lambda topic: topic.rsplit(".", 1)[-1] in types)
        )

    def read(self, conn: Conn, after: int, limit: int) -> list[EventRow]:
        """Up to ``limit`` events after a position, as plain tuples (the cheapest rows).

        In binary: the stored JSON then comes as it is, not as hex to decode on both ends.
        """
        with conn.cursor(row_factory=tuple_row) as cursor:
            return cursor.execute(self._select, (after, limit), binary=True).fetchall()

    def apply(self, conn: Conn, generation: int, rows: Iterable[EventRow]) -> None:
        """Apply rows in the caller's transaction; a failing event raises `PoisonEvent`."""
        self.write(conn, generation, self.prepare(rows))

    def prepare(self, rows: Iterable[EventRow]) -> Prepared:
        """The statements of each wanted event (decoding only: no database needed)."""
        prepared = []
        for row in rows:
            if not self._wanted(row[3]):
                continue
            position = row[0]
            try:
                statements = list(self.projection.apply(self.decode(*row)))
            except Exception as error:
                raise PoisonEvent(self.projection.name, position, error) from error
            if statements:
                prepared.append((position, statements))
        return prepared

    def write(self, conn: Conn, generation: int, prepared: Prepared) -> None:
        """Send prepared statements in the caller's transaction.

        Runs of the same statement go together: long runs of a plain insert as one COPY,
        others as one pipelined ``executemany``, so a batch costs a few round trips.
        """
        schema = schema_of(self.projection.name, generation)
        run: list[Statement] = []
        first_position = 0
        with conn.cursor() as cursor:

            def flush() -> None:
                if not run:
                    return
                try:
                    if not self._copied(conn, cursor, schema, run):
                        sql = compose(run[0].sql, schema, self._sql)
                        cursor.executemany(sql, [s.params for s in run])
                except TRANSIENT:
                    raise
                except Exception as error:
                    raise PoisonEvent(self.projection.name, first_position, error) from error
                run.clear()

            for position, statements in prepared:
                for statement in statements:
                    if run and statement.sql != run[0].sql:
                        flush()
                    if not run:
                        first_position = position
                    run.append(statement)
            flush()

    def _copied(
        self, conn: Conn, cursor: Cursor[dict[str, Any]], schema: str, run: list[Statement]
    ) -> bool:
        """Send a long run of plain inserts as COPY; ``False`` if not done (nothing is
        then written, and the run goes statement by statement to name the failing one).

        The COPY is binary, the cheapest to format here and to parse on the server; its
        column types are the table's own (binary values must match them: a uuid column
        also takes a string, as ids are in event data).
        """
        into = run[0].copy
        if into is None or len(run) < COPY_MIN_ROWS:
            return False
        try:
            with conn.transaction():
                copy_sql, types = self._copy_into(cursor, schema, into)
                cursor.adapters.register_dumper(None, IdBinaryDumper)  # before set_types
                with cursor.copy(copy_sql) as copy:
                    copy.set_types(types)
                    for statement in run:
                        copy.write_row(statement.params)
        except TRANSIENT:
            raise
        except Exception as error:
            # Usually one event the table refuses; if the rows then go in one by one,
            # a value's type does not match its column's (binary rows must match).
            log.info("copy refused", projection=self.projection.name, error=str(error))
            return False
        return True

    def _copy_into(
        self, cursor: Cursor[dict[str, Any]], schema: str, into: CopyInto
    ) -> tuple[Composed, list[int]]:
        """The binary COPY of a run into a table, and the types of its columns (cached)."""
        key = (schema, into)
        known = self._copies.get(key)
        if known is None:
            table = Identifier(schema, into.table)
            columns = SQL(", ").join(map(Identifier, into.columns))
            cursor.execute(SQL("SELECT {0} FROM {1} WHERE false").format(columns, table))
            types = [column.type_code for column in cursor.description or ()]
            copy_sql = SQL("COPY {0} ({1}) FROM STDIN (FORMAT BINARY)").format(table, columns)
            known = self._copies[key] = (copy_sql, types)
        return known

    def step(self, conn: Conn, generation: int, batch_size: int, *, live: bool) -> Batch:
        """One transaction: events after the checkpoint, applied, checkpoint moved."""
        name = self.projection.name
        with conn.transaction():
            if live:
                state = conn.execute(
                    "SELECT generation, state FROM chronicle_projections WHERE name = %s"
                    " FOR UPDATE",
                    (name,),
                ).fetchone()
                if state is None or state["state"] != "running":
                    return Batch(0, -1)
                generation = state["generation"]
            checkpoint = conn.execute(
                "SELECT position FROM chronicle_checkpoints WHERE name = %s AND generation = %s"
                " FOR UPDATE",
                (name, generation),
            ).fetchone()
            assert checkpoint is not None, f"no checkpoint for {name} generation {generation}"
            rows = self.read(conn, checkpoint["position"], batch_size)
            if not rows:
                return Batch(0, checkpoint["position"])
            self.apply(conn, generation, rows)
            last = rows[-1][0]
            self.checkpoint(conn, generation, last)
            return Batch(len(rows), last)

    def checkpoint(self, conn: Conn, generation: int, position: int) -> None:
        """Move the generation's checkpoint, in the caller's transaction."""
        conn.execute(
            "UPDATE chronicle_checkpoints SET position = %s, updated_at = now()"
            " WHERE name = %s AND generation = %s",
            (position, self.projection.name, generation),
        )


class Projector:
    """Keeps one projection up to date until told to stop; reconnects by itself."""

    def __init__(
        self,
        dsn: str,
        projection: Projection,
        decode: ValuesDecoder,
        *,
        batch_size: int = BATCH_SIZE,
        poll_seconds: float = POLL_SECONDS,
        listen: bool = True,
    ) -> None:
        self.dsn = dsn
        self.writer = ProjectionWriter(projection, decode)
        self.name = projection.name
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.listen = listen
        self._last_heartbeat = 0.0

    def run(self, stop: threading.Event) -> None:
        delay = 0.1
        while not stop.is_set():
            try:
                self._follow(stop)
            except TRANSIENT as error:
                log.warning("projector lost its connection", projection=self.name, error=str(error))
                stop.wait(delay)
                delay = min(delay * 2, 5.0)
            else:
                delay = 0.1

    def catch_up(self) -> int:
        """Apply what the log holds now, once; the position reached, or -1 when the
        projection is not running (stopped at a poison event, or being set up)."""
        with connect(self.dsn) as conn:
            while True:
                batch = self.writer.step(conn, 0, self.batch_size, live=True)
                if batch.read < self.batch_size:
                    return batch.last_position

    def _follow(self, stop: threading.Event) -> None:
        with connect(self.dsn) as conn, connect(self.dsn) as listener:
            if self.listen:
                listener.execute(SQL("LISTEN {0}").format(Identifier(EVENTS_TABLE)))
            while not stop.is_set():
                self._heartbeat(conn)
                try:
                    batch = self.writer.step(conn, 0, self.batch_size, live=True)
                except PoisonEvent as poison:
                    self._isolate(conn, poison)
                    continue
                if batch.read == self.batch_size:
                    continue  # catching up: no waiting between full batches
                self._wait(listener, stop)

    def _wait(self, listener: Conn, stop: threading.Event) -> None:
        """Until a notification, the poll interval, or a stop (checked every slice)."""
        deadline = time.monotonic() + self.poll_seconds
        while not stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            slice_ = min(remaining, STOP_CHECK_SECONDS)
            if not self.listen:
                stop.wait(slice_)
                continue
            for _ in listener.notifies(timeout=slice_, stop_after=1):
                return

    def _isolate(self, conn: Conn, poison: PoisonEvent) -> None:
        """Apply the events before the poison one, then stop at it with the error shown."""
        while True:
            try:
                batch = self.writer.step(conn, 0, 1, live=True)
            except PoisonEvent as found:
                conn.execute(
                    "UPDATE chronicle_projections SET state = 'stopped', error = %s,"
                    " error_position = %s, updated_at = now() WHERE name = %s",
                    (found.error, found.position, self.name),
                )
                log.error(
                    "projection stopped at a poison event",
                    projection=self.name,
                    position=found.position,
                    error=found.error,
                )
                return
            if batch.read == 0 or batch.last_position >= poison.position:
                return

    def _heartbeat(self, conn: Conn) -> None:
        now = time.monotonic()
        if now - self._last_heartbeat >= HEARTBEAT_SECONDS:
            conn.execute(
                "UPDATE chronicle_projections SET heartbeat_at = now() WHERE name = %s",
                (self.name,),
            )
            self._last_heartbeat = now


class ProjectionEngine:
    """Runs a projector thread per projection; start/stop from the owning process."""

    def __init__(self, projectors: list[Projector]) -> None:
        self.projectors = projectors
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for projector in self.projectors:
            thread = threading.Thread(
                target=projector.run, args=(self._stop,), name=f"projector-{projector.name}"
            )
            thread.daemon = True
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def wait(self) -> None:
        """Block until stopped (for `chronicle project`)."""
        while not self._stop.wait(0.5):
            pass


class RebuildError(RuntimeError):
    """A rebuild could not complete; the live read model is untouched."""


class Rebuild:
    """Builds a fresh generation beside the live one, then swaps it in atomically."""

    def __init__(
        self, dsn: str, projection: Projection, decode: ValuesDecoder, batch_size: int = 5000
    ):
        self.dsn = dsn
        self.projection = projection
        self.writer = ProjectionWriter(projection, decode)
        self.batch_size = batch_size

    def run(
        self, progress: Callable[[int, int], None] = lambda done, head: None
    ) -> tuple[int, int, int]:
        """Returns (generation, position, events read); ``progress(position, head)`` as it goes."""
        name = self.projection.name
        with connect(self.dsn) as conn:
            # A crash loses the generation's last batches with their checkpoint, never
            # one without the other, so batches need not wait for their flush; the swap
            # waits for its own (and so for every batch before it).
            conn.execute("SET synchronous_commit = off")
            if not conn.execute(
                "SELECT pg_try_advisory_lock(hashtext(%s))", (f"rebuild:{name}",)
            ).fetchone()["pg_try_advisory_lock"]:  # type: ignore[index]
                raise RebuildError(f"{name} is already being rebuilt")
            with conn.transaction():
                generation = conn.execute(
                    "SELECT max(generation) + 1 AS next FROM chronicle_checkpoints WHERE name = %s",
                    (name,),
                ).fetchone()["next"]  # type: ignore[index]
                create_generation(conn, self.projection, generation, indexes=False)
                conn.execute(
                    "UPDATE chronicle_projections SET rebuilding = %s WHERE name = %s",
                    (generation, name),
                )
            read = 0
            try:
                read += self._catch_up(conn, generation, progress)
                with conn.transaction():
                    create_indexes(conn, self.projection, generation)
                read += self._catch_up(conn, generation, progress)
                position, tail = self._swap(conn, generation)
            except BaseException:
                self._abandon(conn, generation)
                raise
        return generation, position, read + tail

    def _catch_up(self, conn: Conn, generation: int, progress: Callable[[int, int], None]) -> int:
        """Apply batches up to the head, each with its checkpoint in one transaction.

        The next batch is read and decoded on a second connection while this one writes
        the last, so the client's decoding overlaps the server's inserting.
        """
        read = 0

        def fetch(source: Conn, after: int) -> tuple[list[EventRow], Prepared]:
            rows = self.writer.read(source, after, self.batch_size)
            return rows, self.writer.prepare(rows)

        with (
            ThreadPoolExecutor(1, thread_name_prefix="rebuild-read") as ahead,
            connect(self.dsn) as source,
        ):
            pending = ahead.submit(fetch, source, self._position(conn, generation))
            while True:
                rows, prepared = pending.result()
                if len(rows) == self.batch_size:
                    pending = ahead.submit(fetch, source, rows[-1][0])
                if rows:
                    with conn.transaction():
                        self.writer.write(conn, generation, prepared)
                        self.writer.checkpoint(conn, generation, rows[-1][0])
                read += len(rows)
                progress(self._position(conn, generation), self._head(conn))
                if len(rows) < self.batch_size:
                    return read

    def _swap(self, conn: Conn, generation: int) -> tuple[int, int]:
        name = self.projection.name
        with conn.transaction():
            conn.execute("SET LOCAL synchronous_commit = on")
            live = scalar(
                conn,
                "SELECT generation FROM chronicle_projections WHERE name = %s FOR UPDATE",
                (name,),
            )
            tail = 0
            while True:  # the live projector waits on our lock; catch up the last events
                rows = self.writer.read(conn, self._position(conn, generation), self.batch_size)
                if not rows:
                    break
                self.writer.apply(conn, generation, rows)
                tail += len(rows)
                self.writer.checkpoint(conn, generation, rows[-1][0])
            point_views(conn, self.projection, generation)
            conn.execute(
                "UPDATE chronicle_projections SET generation = %s, state = 'running', error = NULL,"
                " error_position = NULL, rebuilding = NULL, updated_at = now() WHERE name = %s",
                (generation, name),
            )
            conn.execute(
                SQL("DROP SCHEMA IF EXISTS {0} CASCADE").format(Identifier(schema_of(name, live)))
            )
            conn.execute(
                "DELETE FROM chronicle_checkpoints WHERE name = %s AND generation <> %s",
                (name, generation),
            )
            return self._position(conn, generation), tail

    def _abandon(self, conn: Conn, generation: int) -> None:
        name = self.projection.name
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            return
        with conn.transaction():
            conn.execute(
                SQL("DROP SCHEMA IF EXISTS {0} CASCADE").format(
                    Identifier(schema_of(name, generation))
                )
            )
            conn.execute(
                "DELETE FROM chronicle_checkpoints WHERE name = %s AND generation = %s",
                (name, generation),
            )
            conn.execute(
                "UPDATE chronicle_projections SET rebuilding = NULL WHERE name = %s", (name,)
            )

    @staticmethod
    def _head(conn: Conn) -> int:
        row = conn.execute(
            SQL("SELECT coalesce(max(notification_id), 0) AS head FROM {0}").format(
                Identifier(EVENTS_TABLE)
            )
        ).fetchone()
        return int(row["head"]) if row else 0

    def _position(self, conn: Conn, generation: int) -> int:
        row = conn.execute(
            "SELECT position FROM chronicle_checkpoints WHERE name = %s AND generation = %s",
            (self.projection.name, generation),
        ).fetchone()
        return int(row["position"]) if row else 0


def skip_poison(dsn: str, name: str, position: int) -> str:
    """Move a stopped projection past the event at ``position``; returns the error it had."""
    with connect(dsn) as conn, conn.transaction():
        row = conn.execute(
            "SELECT generation, state, error, error_position FROM chronicle_projections"
            " WHERE name = %s FOR UPDATE",
            (name,),
        ).fetchone()
        if row is None:
            raise RebuildError(f"no projection named {name!r}")
        if row["state"] != "stopped" or row["error_position"] != position:
            where = (
                f"stopped at {row['error_position']}" if row["state"] == "stopped" else "running"
            )
            raise RebuildError(f"{name} is not stopped at position {position} (it is {where})")
        conn.execute(
            "UPDATE chronicle_checkpoints SET position = %s WHERE name = %s AND generation = %s",
            (position, name, row["generation"]),
        )
        conn.execute(
            "UPDATE chronicle_projections SET state = 'running', error = NULL,"
            " error_position = NULL, updated_at = now() WHERE name = %s",
            (name,),
        )
        return str(row["error"])
