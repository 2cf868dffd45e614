"""The event store: one `eventsourcing` Application on PostgreSQL, and the unit of work.

Every write in Chronicle passes through `PostgresEventStore.commit`; it must stay the one seam.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, LRUCache
from eventsourcing.domain import Aggregate
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.utils import get_topic
from psycopg.conninfo import conninfo_to_dict
from psycopg.sql import SQL, Identifier

from application.context import CommandContext
from application.errors import NotFound, StoreUnavailable
from application.ports import Change, CommandResult, RecordedEvent, StoredReceipt
from application.tenancy import check_owner
from domain.erasure import DataSubject
from infrastructure.batch_writer import (
    BatchStatements,
    BatchWriter,
    PendingCommit,
    PendingReceipt,
)
from infrastructure.event_columns import EventColumns
from infrastructure.group_commit import MAX_BATCH, BatchCounts, GroupCommit
from infrastructure.personal_fields import PersonalFields, SealingMapper
from infrastructure.pools import recover_quickly
from infrastructure.portal import Portal
from infrastructure.read_models import setup_locked
from infrastructure.settings import Settings
from infrastructure.snapshots import SNAPSHOT_INTERVAL, Snapshotter
from infrastructure.stored_events import StoredEventDecoder
from infrastructure.subject_keys import KeyRing, check_master, parse_master_key
from infrastructure.transcoder import ChronicleTranscoder
from projections.events import Event

A = TypeVar("A", bound=Aggregate)
SUBJECT_ERASED: type[Any] = DataSubject.SubjectErased  # type: ignore[attr-defined]

APPLICATION_NAME = "Chronicle"
EVENTS_TABLE = "chronicle_events"  # eventsourcing names it after the application
RECEIPTS_TABLE = "chronicle_receipts"
APPEND_FUNCTION = "append_v2"  # the group commit's function: chronicle_events_append_v2
LATEST_VERSION = 2**63 - 1


class ChronicleRecorder(PostgresApplicationRecorder):
    """The library's recorder plus the receipts table and Chronicle's queries."""

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        schema = Identifier(self.datastore.schema)
        self.receipts = SQL("{0}.{1}").format(schema, Identifier(RECEIPTS_TABLE))
        self.events = SQL("{0}.{1}").format(schema, Identifier(self.events_table_name))
        self.append_function = SQL("{0}.{1}").format(
            schema, Identifier(f"{self.events_table_name}_{APPEND_FUNCTION}")
        )
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {0} ("
                " tenant_id text NOT NULL, key text NOT NULL, fingerprint text NOT NULL,"
                " result jsonb NOT NULL, position bigint NOT NULL,"
                " created_at timestamptz NOT NULL DEFAULT now(),"
                " PRIMARY KEY (tenant_id, key))"
            ).format(self.receipts)
        )
        # Replaced at every start under the setup lock, so a fix to its body comes with an
        # upgrade; a change to its parameters or answer takes a new name (`APPEND_FUNCTION`)
        # beside the old one, which processes of the last release go on calling.
        self.sql_create_statements.append(BatchStatements(self).function())

    def select_receipt(self, tenant_id: str, key: str) -> dict[str, Any] | None:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(
                SQL(
                    "SELECT fingerprint, result, position FROM {0} WHERE tenant_id=%s AND key=%s"
                ).format(self.receipts),
                (tenant_id, key),
            )
            return curs.fetchone()

    def select_stream(
        self, aggregate_id: UUID, from_version: int, limit: int
    ) -> list[dict[str, Any]]:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(
                SQL(
                    "SELECT notification_id, originator_id, originator_version, topic, state,"
                    " tenant_id FROM {0} WHERE originator_id=%s AND originator_version>=%s"
                    " ORDER BY originator_version LIMIT %s"
                ).format(self.events),
                (aggregate_id, from_version, limit),
            )
            return curs.fetchall()

    def select_created_originators(self, aggregate_topic: str) -> list[UUID]:
        """Ids of the aggregates of one class, in order of creation."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(
                SQL(
                    "SELECT originator_id FROM {0} WHERE originator_version=1 AND topic LIKE %s"
                    " ORDER BY notification_id"
                ).format(self.events),
                (aggregate_topic.replace("_", r"\_") + ".%",),
            )
            return [row["originator_id"] for row in curs.fetchall()]

    def ping(self) -> None:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute("SELECT 1")


Committer = GroupCommit[PendingCommit, list[int]]


class ChronicleApplication(Application[UUID]):
    """The one event-sourced application; its events live in table ``chronicle_events``."""

    name = APPLICATION_NAME
    is_snapshotting_enabled = True  # snapshots are taken by `Snapshotter`, not on save

    def construct_mapper(self) -> SealingMapper:
        return SealingMapper(transcoder=self.construct_transcoder())


def application_env(settings: Settings) -> dict[str, str]:
    """The eventsourcing environment for a PostgreSQL URL."""
    if not settings.database_url:
        raise ValueError("no database URL")
    params = conninfo_to_dict(settings.database_url)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "APPLICATION_RECORDER_TOPIC": get_topic(ChronicleRecorder),
        "TRANSCODER_TOPIC": get_topic(ChronicleTranscoder),
        "POSTGRES_DBNAME": str(params.get("dbname") or "postgres"),
        "POSTGRES_HOST": str(params.get("host") or "127.0.0.1"),
        "POSTGRES_PORT": str(params.get("port") or "5432"),
        "POSTGRES_USER": str(params.get("user") or "postgres"),
        "POSTGRES_PASSWORD": str(params.get("password") or ""),
        "POSTGRES_POOL_SIZE": str(settings.db_pool_size),
        "POSTGRES_MAX_OVERFLOW": str(settings.db_max_overflow),
        "POSTGRES_PRE_PING": "y",
        "POSTGRES_CONNECT_TIMEOUT": "10",
        "CREATE_TABLE": "y",
        # Cached aggregates are fast-forwarded with only their new events on each load
        # (and deep-copied for the command), so loads do not replay whole histories.
        "AGGREGATE_CACHE_MAXSIZE": "10000",
        "AGGREGATE_CACHE_FASTFORWARD": "y",
    }


class PostgresEventStore:
    """The application's `EventStore` port on PostgreSQL: load, commit, receipts, streams."""

    def __init__(
        self,
        settings: Settings,
        portal: Portal | None = None,
        *,
        max_batch: int = MAX_BATCH,
        snapshot_interval: int = SNAPSHOT_INTERVAL,
        seal_personal: bool = True,
    ) -> None:
        """Raises `MasterKeyError` before anything is written when the settings' master key
        is missing or not this database's. ``seal_personal=False`` (the bench's plain
        baseline only) writes personal fields as they are."""
        assert settings.database_url
        master = parse_master_key(settings.master_key)
        check_master(settings.database_url, master)
        with setup_locked(settings.database_url) as conn:  # the application creates its tables
            self.app = ChronicleApplication(env=application_env(settings))
            recorder = self.app.recorder
            assert isinstance(recorder, ChronicleRecorder)
            EventColumns(recorder.datastore.schema, recorder.events_table_name).migrate(conn)
        recover_quickly(recorder.datastore.pool)
        self.recorder = recorder
        mapper = self.app.mapper
        assert isinstance(mapper, SealingMapper)
        self.keys = KeyRing(master, lambda: recorder.datastore.transaction(commit=True))
        self.personal = PersonalFields(self.keys)
        mapper.personal = self.personal  # loads open personal values, snapshots seal them
        self._seal = seal_personal
        self.decoder = StoredEventDecoder(mapper, self.personal)
        # The relay's: personal values stay sealed on their way to JetStream.
        self.sealed_decoder = StoredEventDecoder(mapper)
        self._own_portal = portal is None  # a store made alone writes on a loop of its own
        self.portal = portal or Portal()
        self.database_url = settings.database_url
        self._max_batch = max_batch
        self.counts = BatchCounts()
        self._group: Committer | None = None
        self._closed = False
        self.snapshots = Snapshotter(self._take_snapshot, snapshot_interval)

    def forget_subject(self, tenant_id: str, subject: str) -> None:
        """Forget an erased subject's keys, and the cached aggregates (which may hold its
        values opened: they are loaded again, from the log and the snapshots left)."""
        self.keys.forget(tenant_id, subject)
        cache = self.app.repository.cache
        if isinstance(cache, LRUCache):
            cache.clear()

    def close(self) -> None:
        """Write what has queued, then let go (from any thread but the home loop's)."""
        self._closed = True
        if self._group is not None:
            self._group.close()
        if self._own_portal:
            self.portal.close()
        self.app.close()

    def ping(self) -> None:
        self.recorder.ping()

    def get(self, aggregate_id: UUID, kind: type[A]) -> A:
        try:
            aggregate: Aggregate = self.app.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFound(f"{kind.__name__.lower()} {aggregate_id} not found") from None
        if not isinstance(aggregate, kind):
            raise NotFound(f"{kind.__name__.lower()} {aggregate_id} not found")
        return aggregate

    def get_at(self, aggregate_id: UUID, version: int) -> Aggregate:
        try:
            aggregate: Aggregate = self.app.repository.get(aggregate_id, version=version)
        except AggregateNotFoundError:
            raise NotFound(f"stream {aggregate_id} not found") from None
        return aggregate

    def _take_snapshot(self, aggregate_id: UUID, version: int) -> None:
        self.app.take_snapshot(aggregate_id, version=version)

    def load_cold(self, aggregate_id: UUID) -> Aggregate:
        """The aggregate from its latest snapshot and the events after it, not from the cache."""
        return self.get_at(aggregate_id, LATEST_VERSION)

    async def commit(self, context: CommandContext, change: Change) -> CommandResult:
        """Write the change in the next group commit, on the home loop, and snapshot a
        long aggregate after it (in a thread: the library's snapshots are synchronous)."""
        events, pending = self._pending(context, change)
        positions = await self.portal.run(self._submit, pending)
        self.keys.stored(pending.new_keys)
        if self.snapshots.due(events):
            await asyncio.to_thread(self.snapshots.after_commit, change.aggregates, events)
        return CommandResult(
            change.subject.id, change.subject.version, max(positions), change.fields
        )

    async def commit_together(
        self, subject: Aggregate, decided: Sequence[tuple[CommandContext, Sequence[Any]]]
    ) -> list[int]:
        """Write the events of several commands in one commit of the next group commit,
        each stamped with its own command's metadata (see `EventStore.commit_together`)."""
        tenant = decided[0][0].tenant_id
        check_owner(tenant, (subject,))
        stored, ends, used = [], [], set[str]()
        for context, events in decided:
            if context.idempotency is not None or context.tenant_id != tenant:
                raise ValueError("commands committed together share a tenant, without receipts")
            metadata: dict[str, Any] = context.metadata()
            metadata["occurred_at"] = events[0].timestamp.isoformat()
            for event in events:
                object.__setattr__(event, "metadata", metadata)
                stored.append(self._stored(event, subject, used))
            ends.append(len(stored) - 1)
        keys = self.keys.unstored(used)
        positions = await self.portal.run(self._submit, PendingCommit(stored, None, tenant, keys))
        self.keys.stored(keys)
        events = [event for _, each in decided for event in each]
        if self.snapshots.due(events):
            await asyncio.to_thread(self.snapshots.after_commit, (subject,), events)
        return [positions[end] for end in ends]

    async def _submit(self, pending: PendingCommit) -> list[int]:
        return await self._home_group().submit(pending)

    def _home_group(self) -> Committer:
        """The group commit of the home loop (a new one when the home loop changed)."""
        group = self._group
        if self._closed:
            raise RuntimeError("the event store is closed")
        if group is None or group.stopped or not group.on_own_loop():
            if group is not None:
                group.close()  # writes what it holds, on its own loop
            writer = BatchWriter(self.database_url, self.recorder)
            group = self._group = GroupCommit(
                writer,
                max_batch=self._max_batch,
                counts=self.counts,
                fails_together=(StoreUnavailable,),
            )
        return group

    def _pending(self, context: CommandContext, change: Change) -> tuple[list[Any], PendingCommit]:
        """The change's events, stamped with the context's metadata, and their stored form."""
        check_owner(context.tenant_id, change.aggregates)
        owned = [
            (e, aggregate) for aggregate in change.aggregates for e in aggregate.collect_events()
        ]
        events = [event for event, _ in owned]
        if not events:
            raise ValueError("a change must record at least one event")
        metadata: dict[str, Any] = context.metadata()
        metadata["occurred_at"] = events[0].timestamp.isoformat()  # when it was decided
        for event in events:
            # Events are frozen; metadata rides along in their stored state.
            object.__setattr__(event, "metadata", metadata)
        receipt = None
        if context.idempotency is not None:
            result = {"id": str(change.subject.id), "version": change.subject.version}
            receipt = PendingReceipt(
                context.tenant_id,
                context.idempotency.key,
                context.idempotency.fingerprint,
                result | {"fields": change.fields},
            )
        used: set[str] = set()
        stored = [self._stored(event, aggregate, used) for event, aggregate in owned]
        erased = [
            (str(vars(e)["tenant_id"]), str(vars(e)["subject"]))
            for e in events
            if type(e) is SUBJECT_ERASED
        ]
        pending = PendingCommit(
            stored, receipt, context.tenant_id, self.keys.unstored(used), erased
        )
        return events, pending

    def _stored(self, event: Any, aggregate: Aggregate, used: set[str]) -> Any:
        """The stored form of an event, its personal values sealed (the keys they used
        added to ``used``): the one place where events are encoded for the log."""
        mapper = self.app.mapper
        if not self._seal:
            return mapper.to_stored_event(event)
        if type(mapper) is SealingMapper:
            return mapper.to_stored_sealed(event, aggregate, used)
        # Another mapper (a test writing an older version's events): sealed, then its own.
        return mapper.to_stored_event(self.personal.sealed_event(event, aggregate, used))

    def find_receipt(self, tenant_id: str, key: str) -> StoredReceipt | None:
        row = self.recorder.select_receipt(tenant_id, key)
        if row is None:
            return None
        result = row["result"]
        return StoredReceipt(
            fingerprint=row["fingerprint"],
            result=CommandResult(
                id=UUID(result["id"]),
                version=result["version"],
                position=row["position"],
                fields=result.get("fields", {}),
                replayed=True,
            ),
        )

    def read_stream(
        self, aggregate_id: UUID, from_version: int, limit: int
    ) -> Sequence[RecordedEvent]:
        rows = self.recorder.select_stream(aggregate_id, from_version, limit)
        return [self.decode(row) for row in rows]

    def aggregate_ids(self, kind: type[Aggregate]) -> Sequence[UUID]:
        return self.recorder.select_created_originators(get_topic(kind))

    def decode(self, row: dict[str, Any]) -> RecordedEvent:
        """A row of the events table (with ``notification_id``) as a `RecordedEvent`."""
        return self.decoder.recorded(
            row["notification_id"],
            row["originator_id"],
            row["originator_version"],
            row["topic"],
            row["state"],
            row.get("tenant_id"),
        )

    def decode_values(
        self,
        position: int,
        aggregate_id: UUID,
        version: int,
        topic: str,
        stored: bytes,
        tenant_id: str | None = None,
    ) -> Event:
        """The typed event a projection applies, from the columns of its row (raises
        `UnexpectedShape` when the stored state does not fit it)."""
        return self.decoder.typed(position, aggregate_id, version, topic, stored, tenant_id)
