"""The Litestar application factory: routes, plugins and the lifespan of its clients.

Clients are created inside the lifespan, on the app's own event loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
import structlog
from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.prometheus import PrometheusConfig

from api.bootstrap import Container
from api.http.access import AccessLog
from api.http.alerts import AlertRulesController, AlertsController
from api.http.audit import AuditController
from api.http.auth import authentication_middleware
from api.http.bodies import ChronicleRequest
from api.http.console import console_router, template_config
from api.http.contract import contract_renderers, docs_assets
from api.http.conversations import ConversationsController
from api.http.denials import DenialAuditMiddleware
from api.http.dependencies import dependencies
from api.http.dependency_order import resolve_dependencies_in_order
from api.http.document_socket import document_socket
from api.http.documents import DocumentsController
from api.http.handshake import HandshakeRefusal, remember_refusal
from api.http.health import HealthController
from api.http.keys import KeysController
from api.http.metric_history import MetricsHistoryController, OverviewController
from api.http.metrics import MetricsController, count_command
from api.http.notifications import NotificationsController
from api.http.options import allow_every_method
from api.http.presence import PresenceController
from api.http.problems import problem_details_plugin
from api.http.queries import strict_queries
from api.http.rate_limit import RateLimitMiddleware
from api.http.runs import ConversationRunsController, RunsController
from api.http.search import SearchController
from api.http.streams import StreamsController
from api.http.subject_export import SubjectExportController
from api.http.subjects import SubjectsController
from api.http.subscriptions import LiveController, live_websocket
from api.http.tasks import DashboardController, TasksController
from api.http.tokens import TokensController
from api.http.tracing import server_spans
from api.http.usage import UsageController
from api.http.webhooks import WebhooksController
from infrastructure import tracing
from infrastructure.logs import configure_logging
from infrastructure.metrics import forget_this_process
from infrastructure.settings import Settings

VERSION = "0.1.0"
RECORD_EVERY_SECONDS = 5.0
log = structlog.get_logger(__name__)


def app_from_env() -> Litestar:
    """The API for the settings of the environment: the factory of `serve`'s workers."""
    settings = Settings.from_env()
    configure_logging(settings.log_level, settings.log_format)
    tracing.configure(["api"])
    return create_app(settings)


def create_app(settings: Settings) -> Litestar:
    """A Chronicle API for servers named by ``settings`` (all three URLs must be set)."""
    if not (settings.database_url and settings.nats_url and settings.redis_url):
        raise ValueError("create_app needs database, NATS and Redis URLs")
    resolve_dependencies_in_order()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.worker_threads
        container = await anyio.to_thread.run_sync(Container.build, settings)
        await container.connect()  # on this loop, which writes every command of the process
        app.state.container = container
        try:
            yield
        finally:
            await container.disconnect()
            await anyio.to_thread.run_sync(container.close)

    prometheus = PrometheusConfig(app_name="chronicle", prefix="chronicle", group_path=True)
    app = Litestar(
        route_handlers=[
            HealthController,
            docs_assets(),
            ConversationsController,
            DocumentsController,
            document_socket,
            StreamsController,
            SearchController,
            LiveController,
            live_websocket,
            RunsController,
            ConversationRunsController,
            TasksController,
            DashboardController,
            OverviewController,
            MetricsHistoryController,
            AlertRulesController,
            AlertsController,
            AuditController,
            UsageController,
            KeysController,
            TokensController,
            NotificationsController,
            PresenceController,
            MetricsController,
            WebhooksController,
            SubjectsController,
            SubjectExportController,
            console_router(),
        ],
        lifespan=[lifespan],
        on_shutdown=[forget_this_process],
        request_class=ChronicleRequest,
        after_exception=[remember_refusal],
        before_request=strict_queries,
        before_send=[
            allow_every_method,
            count_command,
        ],
        dependencies=dependencies(),
        middleware=[
            *server_spans(),
            prometheus.middleware,
            DenialAuditMiddleware(),
            HandshakeRefusal(),
            authentication_middleware(),
            RateLimitMiddleware(),
        ],
        plugins=[problem_details_plugin()],
        template_config=template_config(),
        logging_config=None,  # infrastructure/logs.py configures logging; problems.py logs errors
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
    app.asgi_handler = AccessLog(app.asgi_handler)
    return app
