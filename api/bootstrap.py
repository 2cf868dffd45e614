"""The composition root: builds the object graph from settings. Nothing else constructs
infrastructure; handlers receive what they need from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from application.audit import AuditTrail
from application.commands import CommandRunner
from application.conversations import Conversations
from application.identity import Identity
from application.operations import ProjectionAudit
from application.runs import Runs
from application.streams import Streams
from application.tasks import Tasks
from infrastructure.event_log import EventLog
from infrastructure.event_store import PostgresEventStore
from infrastructure.portal import Portal
from infrastructure.projector import ProjectionEngine, Projector, Rebuild
from infrastructure.read_models import ReadStore, ensure_projections
from infrastructure.relay import Relay
from infrastructure.scheduler import Scheduler
from infrastructure.settings import Settings
from infrastructure.task_queue import PostgresTaskQueue
from projections.base import Projection
from projections.registry import PROJECTIONS


@dataclass
class Container:
    """Everything a Chronicle process uses, built once at start-up."""

    settings: Settings
    portal: Portal
    store: PostgresEventStore
    runner: CommandRunner
    conversations: Conversations
    identity: Identity
    streams: Streams
    projection_log: ProjectionAudit
    audit: AuditTrail
    runs: Runs
    tasks: Tasks
    queue: PostgresTaskQueue
    reads: ReadStore
    events: EventLog
    projections: dict[str, Projection]

    @classmethod
    def build(cls, settings: Settings) -> Container:
        assert settings.database_url
        portal = Portal()
        store = PostgresEventStore(settings, portal)
        runner = CommandRunner(store)
        ensure_projections(settings.database_url, PROJECTIONS.values())
        queue = PostgresTaskQueue(settings.database_url, max_size=settings.db_pool_size)
        return cls(
            settings=settings,
            portal=portal,
            store=store,
            runner=runner,
            conversations=Conversations(store, runner),
            identity=Identity(store, runner, settings.auth_cache_seconds),
            streams=Streams(store),
            projection_log=ProjectionAudit(store, runner),
            audit=AuditTrail(runner),
            runs=Runs(store, runner),
            tasks=Tasks(store, runner, queue),
            queue=queue,
            reads=ReadStore(settings.database_url, max_size=settings.db_pool_size),
            events=EventLog(settings.database_url, store.decode),
            projections=PROJECTIONS,
        )

    @property
    def dsn(self) -> str:
        assert self.settings.database_url
        return self.settings.database_url

    def projection_engine(self, names: list[str] | None = None, **options: Any) -> ProjectionEngine:
        """Projector threads for the named projections (all by default)."""
        chosen = names or list(self.projections)
        return ProjectionEngine([self.projector(name, **options) for name in chosen])

    def projector(self, name: str, **options: Any) -> Projector:
        return Projector(self.dsn, self.projections[name], self.store.decode_values, **options)

    def rebuild(self, name: str) -> Rebuild:
        return Rebuild(self.dsn, self.projections[name], self.store.decode_values)

    def relay(self) -> Relay:
        assert self.settings.nats_url
        return Relay(self.dsn, self.settings.nats_url, self.store.decode)

    def scheduler(self) -> Scheduler:
        return Scheduler(self.tasks, self.queue, self.portal)

    def close(self) -> None:
        self.queue.close()
        self.events.close()
        self.reads.close()
        self.store.close()
        self.portal.close()
