"""The projection engine: follows the log by global position and applies each event once.

Each batch reads events after the checkpoint, applies them, and moves the checkpoint in
one transaction, under a lock on the projection's row, so any number of projector
processes may run side by side. An event a projection cannot apply is parked with the
later events of its aggregate (``infrastructure.parking``) in that same transaction, and
the projection goes on with every other aggregate. The log is read and followed through
``infrastructure.log_follower``; a lost notification or a dropped connection only delays.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from collections.abc import Set as AbstractSet
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from operator import itemgetter
from typing import Any
from uuid import UUID

import psycopg
import structlog
from psycopg import Cursor
from psycopg.adapt import Dumper
from psycopg.pq import Format
from psycopg.sql import SQL, Composed, Identifier
from psycopg.types.uuid import UUIDBinaryDumper

from infrastructure import tracing
from infrastructure.event_log import EventRow, LogReader
from infrastructure.log_follower import TRANSIENT, LogFollower, Retrying
from infrastructure.parking import ParkedEvent, park, parked_among
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
from projections.base import INSERT, INSERT_OR_ADD, Projection, Shape, Statement

log = structlog.get_logger(__name__)

BATCH_SIZE = 1000
Prepared = list[tuple[int, list[Statement]]]  # each event's position and its statements
Failures = list[tuple[EventRow, Exception]]  # events that could not be decoded or prepared
COPY_MIN_ROWS = 32  # shorter runs go faster as one pipelined executemany
POLL_SECONDS = 1.0
HEARTBEAT_SECONDS = 2.0


class IdBinaryDumper(UUIDBinaryDumper):
    """A uuid column's binary value from a UUID or from its string (as event data has it)."""

    def dump(self, obj: UUID | str) -> bytes:
        if type(obj) is str:
            return bytes.fromhex(obj.replace("-", ""))
        return super().dump(obj)  # type: ignore[return-value,arg-type]


class JsonTextBinaryDumper(Dumper):
    """A jsonb column's binary value from JSON text, as projections give it: COPY then
    stores what a statement's text parameter would (psycopg's own would quote it)."""

    format = Format.BINARY
    oid = psycopg.adapters.types["jsonb"].oid

    def dump(self, obj: str) -> bytes:
        return b"\x01" + obj.encode()


class WriteRefused(Exception):
    """The database refused a batch written together (not for a transient reason): roll
    its transaction back and apply it event by event, parking the events it refuses."""


@dataclass
class Batch:
    read: int
    last_position: int


class ProjectionWriter:
    """Applies batches of events to one generation of one projection."""

    def __init__(self, projection: Projection, decode: ValuesDecoder) -> None:
        self.projection = projection
        self.reader = LogReader(decode)
        self._sql: dict[tuple[str, str], Composed] = {}
        self.traced: list[str | None] | None = None  # while tracing a batch: its events' traces
        self._copies: dict[tuple[str, Shape], tuple[Composed, list[int]]] = {}
        types = projection.event_types
        self._wanted: Callable[[str], bool] = (
            (lambda topic: True)
            if types is None
            else (lambda topic: topic.rsplit(".", 1)[-1] in types)
        )

    def prepare(self, rows: Iterable[EventRow]) -> tuple[Prepared, Failures]:
        """The statements of each wanted event (decoding only: no database needed), and
        the events that could not be decoded or prepared, with their errors."""
        prepared: Prepared = []
        failures: Failures = []
        for row in rows:
            if not self._wanted(row[3]):
                continue
            try:
                event = self.reader.event(row)
                if self.traced is not None:
                    self.traced.append(event.metadata.traceparent)
                statements = list(self.projection.apply(event))
            except TRANSIENT:
                raise  # a data key that could not be read: the event is not at fault
            except Exception as error:
                failures.append((row, error))
                continue
            if statements:
                prepared.append((row[0], statements))
        return prepared, failures

    def apply(
        self,
        conn: Conn,
        generation: int,
        rows: Sequence[EventRow],
        parked: AbstractSet[UUID],
        prepared: tuple[Prepared, Failures] | None = None,
    ) -> list[ParkedEvent]:
        """Apply rows in the caller's transaction, and park the wanted events of the
        ``parked`` aggregates and each event that cannot be prepared, with the later events
        of its aggregate; what it parked. Raises `WriteRefused` when the database refuses
        the batch (then nothing of it may be committed)."""
        statements, failures = self.prepare(rows) if prepared is None else prepared
        if not failures and not (parked and any(row[1] in parked for row in rows)):
            self.write(conn, generation, statements)  # the fast path: nothing to set aside
            return []
        errors = {row[0]: error for row, error in failures}
        held = self._sequence(rows, parked, lambda row: errors.get(row[0]))
        aside = {event.position for event in held}
        self.write(conn, generation, [p for p in statements if p[0] not in aside])
        park(conn, self.projection.name, generation, held)
        return held

    def apply_carefully(
        self, conn: Conn, generation: int, rows: Sequence[EventRow], parked: AbstractSet[UUID]
    ) -> list[ParkedEvent]:
        """`apply`, one event at a time, each in its own savepoint, so that the events the
        database refuses are parked with their errors and every other one is applied."""
        held = self._sequence(rows, parked, partial(self.try_apply, conn, generation))
        park(conn, self.projection.name, generation, held)
        return held

    def apply_or_park(
        self,
        conn: Conn,
        generation: int,
        rows: Sequence[EventRow],
        parked: AbstractSet[UUID],
        prepared: tuple[Prepared, Failures] | None = None,
    ) -> list[ParkedEvent]:
        """`apply` inside the caller's transaction, behind a savepoint: a batch the
        database refuses is rolled back to it and applied carefully."""
        try:
            with conn.transaction():
                return self.apply(conn, generation, rows, parked, prepared)
        except WriteRefused:
            return self.apply_carefully(conn, generation, rows, parked)

    def try_apply(self, conn: Conn, generation: int, row: EventRow) -> Exception | None:
        """Apply one event in a savepoint of its own; the error that refused it, or None.
        Transient errors (a lost connection, a deadlock) propagate: the event is not at fault."""
        try:
            statements = list(self.projection.apply(self.reader.event(row)))
            if statements:
                schema = schema_of(self.projection.name, generation)
                with conn.transaction(), conn.cursor() as cursor:
                    for statement in statements:
                        cursor.execute(compose(statement.sql, schema, self._sql), statement.params)
        except TRANSIENT:
            raise
        except Exception as error:
            return error
        return None

    def _sequence(
        self,
        rows: Iterable[EventRow],
        parked: AbstractSet[UUID],
        failure_of: Callable[[EventRow], Exception | None],
    ) -> list[ParkedEvent]:
        """What to park, in position order: every wanted event of a parked aggregate, and
        each event that ``failure_of`` (which may apply it) finds failing, with the later
        events of its aggregate."""
        blocked = set(parked)
        held = []
        for row in rows:
            if not self._wanted(row[3]):
                continue
            if row[1] in blocked:
                held.append(self._parked(row, None))
            elif (error := failure_of(row)) is not None:
                blocked.add(row[1])
                held.append(self._parked(row, error))
        return held

    def _parked(self, row: EventRow, error: Exception | None) -> ParkedEvent:
        return ParkedEvent.of(row[0], row[1], row[5], error)

    def write(self, conn: Conn, generation: int, prepared: Prepared) -> None:
        """Send prepared statements in the caller's transaction.

        Runs of the same statement go together (see `in_runs`): long runs of a plain
        insert as one COPY, others as one pipelined ``executemany``, so a batch costs a few
        round trips.
        """
        schema = schema_of(self.projection.name, generation)
        run: list[Statement] = []
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
                    raise WriteRefused(f"{self.projection.name}: {error}") from error
                run.clear()

            for statement in in_runs(prepared):
                if run and statement.sql != run[0].sql:
                    flush()
                run.append(statement)
            flush()

    def _copied(
        self, conn: Conn, cursor: Cursor[dict[str, Any]], schema: str, run: list[Statement]
    ) -> bool:
        """Send a long run of plain inserts as COPY; ``False`` if not done (nothing is
        then written, and the run goes as statements).

        The COPY is binary, the cheapest to format here and to parse on the server; its
        column types are the table's own (binary values must match them: a uuid column
        also takes a string, a jsonb column takes JSON text as statements do).
        """
        into = run[0].shape
        if into is None or into.kind != INSERT or len(run) < COPY_MIN_ROWS:
            return False
        try:
            with conn.transaction():
                copy_sql, types = self._copy_into(cursor, schema, into)
                cursor.adapters.register_dumper(None, IdBinaryDumper)  # before set_types
                cursor.adapters.register_dumper(None, JsonTextBinaryDumper)
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
        self, cursor: Cursor[dict[str, Any]], schema: str, into: Shape
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
        """One transaction: events after the checkpoint, applied or parked, checkpoint moved.

        A batch the database refuses is rolled back and stepped again, event by event.
        """
        try:
            return self._step(conn, generation, batch_size, live=live, carefully=False)
        except WriteRefused:
            return self._step(conn, generation, batch_size, live=live, carefully=True)

    def _step(
        self, conn: Conn, generation: int, batch_size: int, *, live: bool, carefully: bool
    ) -> Batch:
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
                "SELECT position, EXISTS (SELECT FROM chronicle_parked k"
                "  WHERE k.name = c.name AND k.generation = c.generation) AS parked"
                " FROM chronicle_checkpoints c WHERE name = %s AND generation = %s FOR UPDATE",
                (name, generation),
            ).fetchone()
            assert checkpoint is not None, f"no checkpoint for {name} generation {generation}"
            rows = self.reader.read(conn, checkpoint["position"], batch_size)
            if not rows:
                return Batch(0, checkpoint["position"])
            parked = (
                parked_among(conn, name, generation, {row[1] for row in rows})
                if checkpoint["parked"]
                else set()
            )
            apply = self.apply_carefully if carefully else self.apply
            held = apply(conn, generation, rows, parked)
            last = rows[-1][0]
            self.checkpoint(conn, generation, last)
        self.report(held)
        return Batch(len(rows), last)

    def report(self, held: Sequence[ParkedEvent]) -> None:
        """Log what was parked: positions and error classes, not the errors' text (which
        may quote a tenant's data; operators read it with `chronicle projections parked`)."""
        if not held:
            return
        causes = [event for event in held if event.error_class is not None]
        log.warning(
            "events parked",
            projection=self.projection.name,
            failed=[event.position for event in causes[:20]],
            error_classes=sorted({str(event.error_class) for event in causes}),
            behind=len(held) - len(causes),
        )

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
        retrying = Retrying("projector", projection=projection.name)
        self.follower = LogFollower(dsn, retrying, poll_seconds=poll_seconds, listen=listen)
        self._last_heartbeat = 0.0

    def run(self, stop: threading.Event) -> None:
        """Follow the log until ``stop``, a batch per transaction; never dies of an error
        (an event's is parked, any other retried)."""
        self.follower.run(stop, self._step)

    def _step(self, conn: Conn) -> bool:
        """One batch; whether it was full (more may be waiting)."""
        self._heartbeat(conn)
        if tracing.enabled():
            return self._traced_step(conn).read == self.batch_size
        return self.writer.step(conn, 0, self.batch_size, live=True).read == self.batch_size

    def _traced_step(self, conn: Conn) -> Batch:
        """A batch as a span linked to the command span of each event it applied; a step
        that found nothing new makes none."""
        began = time.time_ns()
        self.writer.traced = []
        try:
            batch = self.writer.step(conn, 0, self.batch_size, live=True)
        finally:
            traced, self.writer.traced = self.writer.traced, None
        if batch.read:
            span = tracing.tracer("projector").start_span(
                f"project {self.name}",
                links=tracing.links_to(traced),
                start_time=began,
                attributes={
                    "chronicle.projection": self.name,
                    "chronicle.batch.size": batch.read,
                    "chronicle.position": batch.last_position,
                },
            )
            span.end()
        return batch

    def catch_up(self) -> int:
        """Apply what the log holds now, once; the position reached, or -1 when the
        projection is not running (not set up, or stopped by an older version)."""
        with connect(self.dsn) as conn:
            while True:
                batch = self.writer.step(conn, 0, self.batch_size, live=True)
                if batch.read < self.batch_size:
                    return batch.last_position

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
        # Aggregates parked in the new generation: only this rebuild writes to it (retries
        # and skips work on the live one), so they are known without asking the database.
        self.parked: set[UUID] = set()
        self.parked_events = 0

    def run(
        self, progress: Callable[[int, int], None] = lambda done, head: None
    ) -> tuple[int, int, int]:
        """Returns (generation, position, events read); ``progress(position, head)`` as it
        goes. Events it cannot apply are parked in the new generation (``parked_events``)."""
        name = self.projection.name
        self.parked, self.parked_events = set(), 0
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

        def fetch(source: Conn, after: int) -> tuple[list[EventRow], tuple[Prepared, Failures]]:
            rows = self.writer.reader.read(source, after, self.batch_size)
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
                        self._apply(conn, generation, rows, prepared)
                        self.writer.checkpoint(conn, generation, rows[-1][0])
                read += len(rows)
                progress(self._position(conn, generation), self.writer.reader.head(conn))
                if len(rows) < self.batch_size:
                    return read

    def _apply(
        self,
        conn: Conn,
        generation: int,
        rows: Sequence[EventRow],
        prepared: tuple[Prepared, Failures] | None = None,
    ) -> None:
        held = self.writer.apply_or_park(conn, generation, rows, self.parked, prepared)
        self.parked.update(event.aggregate_id for event in held)
        self.parked_events += len(held)
        self.writer.report(held)

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
                after = self._position(conn, generation)
                rows = self.writer.reader.read(conn, after, self.batch_size)
                if not rows:
                    break
                self._apply(conn, generation, rows)
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
            for table in ("chronicle_checkpoints", "chronicle_parked"):
                conn.execute(
                    SQL("DELETE FROM {0} WHERE name = %s AND generation <> %s").format(
                        Identifier(table)
                    ),
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
            for table in ("chronicle_checkpoints", "chronicle_parked"):
                conn.execute(
                    SQL("DELETE FROM {0} WHERE name = %s AND generation = %s").format(
                        Identifier(table)
                    ),
                    (name, generation),
                )
            conn.execute(
                "UPDATE chronicle_projections SET rebuilding = NULL WHERE name = %s", (name,)
            )

    def _position(self, conn: Conn, generation: int) -> int:
        row = conn.execute(
            "SELECT position FROM chronicle_checkpoints WHERE name = %s AND generation = %s",
            (self.projection.name, generation),
        ).fetchone()
        return int(row["position"]) if row else 0


def in_runs(prepared: Prepared) -> list[Statement]:
    """A batch's statements in an order that gives long runs of one statement, and the
    same effect as the events' order.

    A table written only by one insert-or-add (a counter adding, or a row inserted once)
    ends the same whatever the order its statements run in: those go last, grouped by
    table, those of one row as one (see `coalesced`). The rest keep the events' order,
    since an update may need the row an insert before it made. A statement of unknown
    shape keeps the whole batch in order.
    """
    statements = [statement for _, each in prepared for statement in each]
    sql_of: dict[str, str | None] = {}
    for statement in statements:
        shape = statement.shape
        if shape is None:
            return statements
        commutes = shape.kind == INSERT_OR_ADD
        known = sql_of.setdefault(shape.table, statement.sql if commutes else None)
        if known != statement.sql:
            sql_of[shape.table] = None
        for subquery in shape.among:
            sql_of[subquery.table] = None  # read by an update: its writes keep their order
    grouped = {table for table, sql in sql_of.items() if sql is not None}
    if not grouped:
        return statements
    kept = [s for s in statements if s.shape is not None and s.shape.table not in grouped]
    moved = [s for s in statements if s.shape is not None and s.shape.table in grouped]
    moved.sort(key=lambda s: s.sql)  # stable: each table's in the events' order
    return kept + coalesced(moved)


def coalesced(statements: list[Statement]) -> list[Statement]:
    """Insert-or-adds of the same row as one, their added values summed: the row ends the
    same, and a counter every event adds to (a minute's bucket) is written once a batch
    instead of once an event, each write another version of one row. Values that do not
    add up in Python (``None``, mixed types) stay separate statements."""
    places: dict[str, tuple[Callable[[tuple[Any, ...]], Any], tuple[int, ...]]] = {}
    rows: dict[tuple[str, Any], list[Any]] = {}  # row → [its first statement, sums or None]
    apart: list[Statement] = []
    for statement in statements:
        place = places.get(statement.sql)
        if place is None:
            shape = statement.shape
            assert shape is not None
            key_of: Callable[[tuple[Any, ...]], Any] = itemgetter(
                *(shape.columns.index(c) for c in shape.key)
            )
            added = tuple(shape.columns.index(c) for c in shape.added)
            place = places[statement.sql] = (key_of, added)
        key_of, added = place
        params = statement.params
        kept = rows.get(row := (statement.sql, key_of(params)))
        if kept is None:
            rows[row] = [statement, None]
            continue
        sums = kept[1] or list(kept[0].params)
        try:
            more = [sums[i] + params[i] for i in added]
        except TypeError:
            apart.append(statement)
            continue
        for i, value in zip(added, more, strict=True):
            sums[i] = value
        kept[1] = sums
    merged = [
        first if sums is None else first._replace(params=tuple(sums))
        for first, sums in rows.values()
    ]
    return merged + apart
