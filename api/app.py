"""The Litestar application factory: routes, plugins and the lifespan of its clients.

Clients are created inside the lifespan, on the app's own event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import UUID

import anyio.to_thread
import structlog
from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.prometheus import PrometheusConfig

from api.bootstrap import Container
from api.http.audit import AuditController
from api.http.auth import authentication_middleware
from api.http.bodies import ChronicleRequest
from api.http.commands import COMMAND_DEPENDENCIES
from api.http.contract import contract_renderers, docs_assets
from api.http.conversations import ConversationsController
from api.http.denials import DenialAuditMiddleware
from api.http.handshake import HandshakeRefusal, remember_refusal
from api.http.health import HealthController
from api.http.keys import KeysController
from api.http.live import LiveController, live_websocket
from api.http.metrics import MetricsController
from api.http.options import allow_every_method
from api.http.problems import problem_details_plugin
from api.http.queries import strict_queries
from api.http.rate_limit import RateLimitMiddleware
from api.http.runs import ConversationRunsController, RunsController
from api.http.search import SearchController
from api.http.streams import StreamsController
from api.http.tasks import DashboardController, TasksController
from api.http.usage import UsageController
from api.logs import configure_logging
from infrastructure.bus import NatsConnection, redis_client
from infrastructure.deltas import Deltas
from infrastructure.live import LiveHub
from infrastructure.rate_limit import RateLimiter
from infrastructure.settings import Settings

VERSION = "0.1.0"
RECORD_EVERY_SECONDS = 5.0
log = structlog.get_logger(__name__)


async def record_rate_limits(limiter: RateLimiter, container: Container) -> None:
    """Every few seconds, record each ended minute's refusals as one event per key."""
    while True:
        await asyncio.sleep(RECORD_EVERY_SECONDS)
        try:
            for key_id, window_start, refused in await limiter.ended_windows():
                await container.identity.record_rate_limited(UUID(key_id), window_start, refused)
        except Exception as error:
            log.warning("could not record rate-limit refusals", error=str(error))


def app_from_env() -> Litestar:
    """The API for the settings of the environment: the factory of `serve`'s workers."""
    configure_logging()
    return create_app(Settings.from_env())


def create_app(settings: Settings) -> Litestar:
    """A Chronicle API for servers named by ``settings`` (all three URLs must be set)."""
    if not (settings.database_url and settings.nats_url and settings.redis_url):
        raise ValueError("create_app needs database, NATS and Redis URLs")
    database_url, nats_url, redis_url = settings.database_url, settings.nats_url, settings.redis_url

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.worker_threads
        container = await anyio.to_thread.run_sync(Container.build, settings)
        container.portal.attach()  # the API's loop writes every command of this process
        nats = NatsConnection(nats_url)
        await nats.start()
        redis = redis_client(redis_url)
        hub = LiveHub(nats, container.events)
        hub.watch("ApiKeyRevoked", container.identity.forget)  # every process, at once
        await hub.start()
        app.state.container, app.state.nats, app.state.redis = container, nats, redis
        app.state.hub = hub
        app.state.deltas = Deltas(nats, redis)
        app.state.rate_limiter = RateLimiter(redis, settings.rate_limit_per_minute)
        recorder = asyncio.create_task(record_rate_limits(app.state.rate_limiter, container))
        try:
            yield
        finally:
            recorder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await recorder
            await hub.close()
            await nats.close()
            app.state.rate_limiter.close()
            await redis.aclose()
            await anyio.to_thread.run_sync(container.close)

    assert database_url
    prometheus = PrometheusConfig(app_name="chronicle", prefix="chronicle", group_path=True)
    return Litestar(
        route_handlers=[
            HealthController,
            docs_assets(),
            ConversationsController,
            StreamsController,
            SearchController,
            LiveController,
            live_websocket,
            RunsController,
            ConversationRunsController,
            TasksController,
            DashboardController,
            AuditController,
            UsageController,
            KeysController,
            MetricsController,
        ],
        lifespan=[lifespan],
        request_class=ChronicleRequest,
        after_exception=[remember_refusal],
        before_request=strict_queries,
        before_send=[allow_every_method],
        dependencies=COMMAND_DEPENDENCIES,
        middleware=[
            prometheus.middleware,
            DenialAuditMiddleware(),
            HandshakeRefusal(),
            authentication_middleware(),
            RateLimitMiddleware(),
        ],
        plugins=[problem_details_plugin()],
        request_max_body_size=settings.max_body_bytes,
        cors_config=CORSConfig(allow_origins=[]),
        openapi_config=OpenAPIConfig(
            title="Chronicle",
            version=VERSION,
            description="An event-sourced CQRS backend for AI-assistant and agent platforms.",
            path="/schema",
            render_plugins=contract_renderers(),
            use_handler_docstrings=True,
            components=Components(
                security_schemes={
                    "apiKey": SecurityScheme(type="http", scheme="bearer", bearer_format="chr_…")
                }
            ),
            security=[{"apiKey": []}],
        ),
    )
