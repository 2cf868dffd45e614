"""Integration fixtures: the event store and a real HTTP API on the embedded servers."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace

import httpx
import psycopg
import pytest
import uvicorn

from api.bootstrap import Container
from api.http.app import create_app
from api.processes.serve import UVICORN_OPTIONS
from application.context import CommandContext
from domain.identity import SCOPES
from infrastructure.embedded import free_port
from infrastructure.relay import RelayThread
from infrastructure.settings import Settings

KeyFactory = Callable[..., str]


@pytest.fixture(scope="session")
def container(servers: Settings) -> Iterator[Container]:
    built = Container.build(servers)
    yield built
    built.close()


@pytest.fixture(scope="session")
def issue_key(container: Container) -> KeyFactory:
    """Issue a key: ``issue_key(tenant=None, scopes=SCOPES)``; a new tenant by default."""

    def issue(tenant: str | None = None, scopes: tuple[str, ...] = SCOPES) -> str:
        tenant = tenant or f"t-{uuid.uuid4().hex[:12]}"
        context = CommandContext(tenant_id=tenant, actor="test", command="keys.create")
        issued = container.portal.call(
            container.identity.issue_key, context, tenant, "test", list(scopes)
        )
        return issued.token

    return issue


@pytest.fixture(scope="session")
def projecting(container: Container) -> Iterator[None]:
    """The projection engine following the session's log, as `chronicle up` runs it."""
    engine = container.projection_engine()
    engine.start()
    yield
    engine.stop()


@pytest.fixture
def scratch(servers: Settings) -> Iterator[Settings]:
    """Settings for a fresh, empty database on the session's PostgreSQL server."""
    assert servers.database_url
    name = f"scratch_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(servers.database_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    yield replace(servers, database_url=servers.database_url.rsplit("/", 1)[0] + f"/{name}")
    with psycopg.connect(servers.database_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def relaying(container: Container) -> Iterator[None]:
    """The relay publishing the session's log to JetStream, as `chronicle up` runs it."""
    relay = RelayThread(container.relay())
    relay.start()
    yield
    relay.stop()


@contextmanager
def serving(settings: Settings) -> Iterator[str]:
    """A real uvicorn server running the app in a background thread; yields its URL."""
    port = free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, **UVICORN_OPTIONS)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the API did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="session")
def scheduling(container: Container) -> Iterator[None]:
    """The scheduler timing out expired leases, as `chronicle up` runs it."""
    scheduler = container.scheduler()
    scheduler.start()
    yield
    scheduler.stop()


@pytest.fixture(scope="session")
def api_url(servers: Settings, projecting: None, relaying: None, scheduling: None) -> Iterator[str]:
    with serving(servers) as url:
        yield url


@pytest.fixture
async def client(api_url: str, issue_key: KeyFactory) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client authenticated as a fresh tenant with every scope."""
    headers = {"Authorization": f"Bearer {issue_key()}"}
    limits = httpx.Limits(max_connections=300, max_keepalive_connections=20)
    async with httpx.AsyncClient(
        base_url=api_url, headers=headers, timeout=30, limits=limits
    ) as http:
        yield http


@pytest.fixture
async def anonymous(api_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as http:
        yield http
