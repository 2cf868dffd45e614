"""The composition root: builds everything a Chronicle process uses, from settings.
Nothing else constructs infrastructure; `up`, `serve`, `project`, `relay`, the scheduler,
the CLI and the tests all start from here.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from uuid import UUID

import msgspec
import redis.asyncio as aioredis
import structlog

from application.alerts import BUILT_IN_RULES, Alerts, Evaluator
from application.audit import AuditTrail
from application.budgets import Budgets
from application.commands import CommandRunner, TracedCommandRunner
from application.context import CommandContext
from application.conversations import Conversations
from application.documents import Documents
from application.erasure import Subjects
from application.identity import Identity
from application.notifications import Notifications
from application.people import FOLLOWED_EVENTS, USER_TOKEN_PREFIX, UserTokens
from application.projection_audit import ProjectionAudit
from application.runs import Runs
from application.streams import Streams
from application.subject_exports import SubjectExports
from application.tasks import Tasks
from application.webhooks import DISABLED_BY_FAILURE, Webhooks
from domain.identity import Budget
from domain.webhook import WebhookAlreadyDisabled
from infrastructure import tracing
from infrastructure.alert_evaluator import EvaluatorThread, Leadership
from infrastructure.alert_reads import ReadModelAlertBook, ReadModelMetrics
from infrastructure.chain import ChainSealer
from infrastructure.command_spans import CommandSpans, RunSpans
from infrastructure.connections import NatsConnection, redis_client
from infrastructure.deltas import Deltas
from infrastructure.editors import Editors
from infrastructure.event_log import EventLog
from infrastructure.event_store import PostgresEventStore
from infrastructure.live_hub import LiveEvent, LiveHub
from infrastructure.live_limits import Caps, LiveLimits
from infrastructure.live_rooms import LiveRooms
from infrastructure.metrics import RunUsage
from infrastructure.metrics_retention import MetricsRetention
from infrastructure.portal import Portal
from infrastructure.privacy_retention import ExpiredConversations, PrivacyRetention
from infrastructure.projector import ProjectionEngine, Projector, Rebuild
from infrastructure.rate_limit import RateLimiter
from infrastructure.read_models import ReadStore, ensure_projections
from infrastructure.relay import Relay
from infrastructure.request_latency import LATENCIES
from infrastructure.samplers import ProcessSampler, SystemSampler
from infrastructure.scheduler import Scheduler
from infrastructure.secrets import stored_secret
from infrastructure.settings import Settings
from infrastructure.signals import Signals
from infrastructure.subject_values import PostgresPersonalValues
from infrastructure.system_samples import ensure_sample_tables
from infrastructure.task_queue import PostgresTaskQueue
from infrastructure.usage_ledger import ReadModelLedger
from infrastructure.user_tokens import token_signing
from infrastructure.webhook_delivery import DeliveryPolicy, WebhookDeliverer, WebhooksThread
from infrastructure.webhook_secrets import PostgresWebhookSecrets
from infrastructure.webhooks import WebhookDispatcher, ensure_webhook_tables
from projections.base import Projection
from projections.registry import PROJECTIONS

RECORD_REFUSALS_EVERY_SECONDS = 5.0
log = structlog.get_logger(__name__)


@dataclass
class Connections:
    """What an API process holds open on its event loop: NATS and Valkey, the live hub,
    token deltas, the rate limiter and the task recording its refusals, the caps on live
    connections, presence signals, documents' editors, the live rooms of documents and the
    task writing the process's samples."""

    nats: NatsConnection
    redis: aioredis.Redis
    hub: LiveHub
    deltas: Deltas
    limiter: RateLimiter
    recorder: asyncio.Task[None]
    live_limits: LiveLimits
    signals: Signals
    editors: Editors
    rooms: LiveRooms
    sampling: asyncio.Task[None]

    async def close(self) -> None:
        await self.live_limits.close()
        self.rooms.close()
        for task in (self.recorder, self.sampling):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.hub.close()
        await self.nats.close()
        self.limiter.close()
        await self.redis.aclose()


@dataclass
class Container:
    """Everything a Chronicle process uses, built once at start-up."""

    settings: Settings
    portal: Portal
    store: PostgresEventStore
    runner: CommandRunner
    conversations: Conversations
    documents: Documents
    identity: Identity
    tokens: UserTokens
    notifications: Notifications
    budgets: Budgets
    streams: Streams
    projection_log: ProjectionAudit
    audit: AuditTrail
    runs: Runs
    tasks: Tasks
    webhooks: Webhooks
    alerts: Alerts
    subjects: Subjects
    queue: PostgresTaskQueue
    reads: ReadStore
    events: EventLog
    subject_exports: SubjectExports
    projections: dict[str, Projection]
    console_secret: bytes  # signs the web console's session cookies
    connections: Connections | None = None  # an API process's, once `connect`ed
    _background: set[asyncio.Task[None]] = field(default_factory=set)

    @classmethod
    def build(cls, settings: Settings) -> Container:
        assert settings.database_url
        portal = Portal()
        store = PostgresEventStore(settings, portal)
        traced = tracing.enabled()  # configured before the container is built
        runner = TracedCommandRunner(store, CommandSpans()) if traced else CommandRunner(store)
        ensure_projections(settings.database_url, PROJECTIONS.values())
        ensure_webhook_tables(settings.database_url)
        ensure_sample_tables(settings.database_url)
        queue = PostgresTaskQueue(settings.database_url, max_size=settings.db_pool_size)
        reads = ReadStore(settings.database_url, max_size=settings.db_pool_size)
        default_budget = Budget(settings.daily_token_budget, settings.daily_cost_budget_usd)
        events = EventLog(settings.database_url, store.decoder.recorded)
        budgets = Budgets(store, ReadModelLedger(reads), default_budget)
        return cls(
            settings=settings,
            portal=portal,
            store=store,
            runner=runner,
            conversations=Conversations(store, runner),
            documents=Documents(store, runner),
            identity=Identity(store, runner, settings.auth_cache_seconds),
            notifications=Notifications(store, runner),
            tokens=UserTokens(store, runner, token_signing(settings.database_url)),
            budgets=budgets,
            streams=Streams(store),
            projection_log=ProjectionAudit(store, runner),
            audit=AuditTrail(runner),
            runs=Runs(store, runner, budgets, RunUsage(RunSpans(store) if traced else None)),
            tasks=Tasks(store, runner, queue),
            webhooks=Webhooks(
                store,
                runner,
                PostgresWebhookSecrets(settings.database_url),
                allow_private=settings.webhooks_allow_private,
            ),
            alerts=Alerts(store, runner, ReadModelMetrics(reads, budgets.of)),
            subjects=Subjects(
                store, runner, store.keys, ExpiredConversations(settings.database_url)
            ),
            queue=queue,
            reads=reads,
            events=events,
            subject_exports=SubjectExports(PostgresPersonalValues(events.pool, store.personal)),
            projections=PROJECTIONS,
            console_secret=stored_secret(settings.database_url, "console-sessions"),
        )

    @property
    def dsn(self) -> str:
        assert self.settings.database_url
        return self.settings.database_url

    async def connect(self) -> Connections:
        """Open what an API process needs on its loop, which becomes the home of its
        writes: NATS, Valkey, the live hub (which also tells every process at once of a
        revoked key), deltas and the rate limiter."""
        assert self.settings.nats_url, "an API process needs NATS"
        assert self.settings.redis_url, "an API process needs Valkey"
        self.portal.attach()
        nats = NatsConnection(self.settings.nats_url)
        await nats.start()
        redis = redis_client(self.settings.redis_url)
        hub = LiveHub(nats, self.events, self.settings.live_buffer, self.store.personal)
        hub.watch("ApiKeyRevoked", lambda event: self.identity.forget(event.aggregate_id))
        hub.watch("SubjectErased", self._subject_erased)
        for event_type in FOLLOWED_EVENTS:
            hub.watch(event_type, self._token_news)
        await asyncio.to_thread(self.tokens.catch_up, self.events)
        await hub.start()
        limiter = RateLimiter(redis, self.settings.rate_limit_per_minute)
        recorder = asyncio.create_task(self._record_refusals(limiter))
        caps = Caps(
            self.settings.live_max_per_tenant,
            self.settings.live_max_per_key,
            self.settings.live_max_per_user,
            self.settings.live_frames_per_second,
        )
        signals = Signals(nats)
        live_limits = LiveLimits(redis, caps)
        sampler = ProcessSampler(self.dsn, live_limits, LATENCIES)
        sampling = asyncio.create_task(sampler.report_every(self.settings.sample_interval_s))
        self.connections = Connections(
            nats,
            redis,
            hub,
            Deltas(nats, redis),
            limiter,
            recorder,
            live_limits,
            signals,
            Editors(redis, signals),
            LiveRooms(hub),
            sampling,
        )
        return self.connections

    def _subject_erased(self, event: LiveEvent) -> None:
        """A data subject was erased somewhere: forget what this process holds of it."""
        data = msgspec.json.decode(event.payload).get("data") or {}
        self.forget_subject(event.tenant, str(data.get("subject", "")))

    def forget_subject(self, tenant_id: str, subject: str) -> None:
        """Drop the subject's keys, and every value of it held in memory: cached
        aggregates (all of them: they are loaded again), and a document's kept copy."""
        self.store.forget_subject(tenant_id, subject)
        kind, _, name = subject.partition(":")
        if kind == "document":
            with contextlib.suppress(ValueError):
                self.documents.forget(tenant_id, UUID(name))

    def _token_news(self, _: LiveEvent) -> None:
        """A user's tokens were revoked, or a tenant's key rotated, somewhere: read the
        news in a thread."""
        task = asyncio.get_running_loop().create_task(
            asyncio.to_thread(self.tokens.catch_up, self.events)
        )
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def disconnect(self) -> None:
        if self.connections is not None:
            await self.connections.close()
            self.connections = None

    async def _record_refusals(self, limiter: RateLimiter) -> None:
        """Every few seconds, record each ended minute's refusals as one event per key."""
        while True:
            await asyncio.sleep(RECORD_REFUSALS_EVERY_SECONDS)
            try:
                for key_id, window_start, refused in await limiter.ended_windows():
                    if key_id.startswith(USER_TOKEN_PREFIX):
                        continue  # a user token's refusals are counted, not recorded
                    await self.identity.record_rate_limited(UUID(key_id), window_start, refused)
            except Exception as error:
                log.warning("could not record rate-limit refusals", error=str(error))

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
        return Relay(self.dsn, self.settings.nats_url, self.store.sealed_decoder.recorded)

    def scheduler(self) -> Scheduler:
        retention = MetricsRetention(
            self.dsn, self.settings.metrics_minute_days, self.settings.metrics_hour_days
        )
        privacy = PrivacyRetention(
            self.identity, self.subjects, self.portal, self.settings.retention_sweep_s
        )
        return Scheduler(self.tasks, self.queue, self.portal, periodic=(retention, privacy))

    def webhook_worker(self) -> WebhooksThread:
        """The webhooks' dispatcher and deliverer, with the settings' delivery policy."""
        s = self.settings
        policy = DeliveryPolicy(
            timeout_s=s.webhook_timeout_s,
            max_attempts=s.webhook_max_attempts,
            first_delay_s=s.webhook_backoff_s,
            disable_after=s.webhook_disable_after,
            keep_days=s.webhook_keep_days,
            allow_private=s.webhooks_allow_private,
        )
        # Bodies are stored as the relay publishes events, personal values sealed; the
        # deliverer opens them just before it signs and sends, with keys the dispatcher
        # drops as it reads their subject's erasure (decision 26).
        dispatcher = WebhookDispatcher(
            self.dsn, self.store.sealed_decoder.recorded, erased=self.store.keys.forget
        )
        deliverer = WebhookDeliverer(self.dsn, policy, self._disable_webhook, self.store.personal)
        return WebhooksThread(dispatcher, deliverer)

    async def _disable_webhook(self, tenant_id: str, webhook_id: UUID) -> None:
        """Record that repeated failure disabled a webhook (called on the deliverer's loop)."""
        context = CommandContext(tenant_id=tenant_id, actor="webhooks", command="webhook.disable")
        with contextlib.suppress(WebhookAlreadyDisabled):
            await asyncio.to_thread(
                self.portal.call, self.webhooks.disable, context, webhook_id, DISABLED_BY_FAILURE
            )

    def evaluator(self) -> Evaluator:
        """The alert evaluator (evaluate it with given times, or run `alert_evaluator`)."""
        interval = timedelta(seconds=self.settings.alert_interval_s)
        metrics = ReadModelMetrics(self.reads, self.budgets.of)
        book = ReadModelAlertBook(self.reads, self.events.head)
        return Evaluator(self.store, self.runner, metrics, book, interval, BUILT_IN_RULES)

    def alert_evaluator(self) -> EvaluatorThread:
        """The evaluator, and the sampler of the system's operational samples beside it."""
        sampler = SystemSampler(self.dsn, self.events.reader)
        every = timedelta(seconds=self.settings.sample_interval_s)
        leadership = Leadership(self.dsn)
        return EvaluatorThread(self.evaluator(), self.portal, sampler, every, leadership)

    def sealer(self) -> ChainSealer:
        return ChainSealer(self.dsn)

    def close(self) -> None:
        self.queue.close()
        self.events.close()
        self.reads.close()
        self.store.close()
        self.portal.close()
