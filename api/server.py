"""Running Chronicle's processes: `up` (embedded servers plus the API) and `serve` (API only).

`up` owns its data directory while it runs and stops every child it started on exit.
"""

from __future__ import annotations

import asyncio
import errno
import os
import signal
import socket
import time
from collections.abc import Callable
from typing import Any, Protocol

import uvicorn
from rich.console import Console

from api.app import create_app
from api.bootstrap import Container
from api.http.protocol import ProblemHttpProtocol
from application.context import CommandContext
from domain.identity import SCOPES
from infrastructure.embedded import EmbeddedServers
from infrastructure.relay import RelayThread
from infrastructure.runtime import data_dir_lock, remove_runtime, servers_for, write_runtime
from infrastructure.settings import Settings

DEV_TENANT = "default"
DEV_KEY_FILE = "dev-api-key"


class Worker(Protocol):
    """A process kind that `up` runs on threads beside the API."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


# What `chronicle up` runs beside the API (`serve`), each under the `chronicle` command that
# runs it alone; docker-compose has a service for each (tests/unit/api/test_compose.py).
UP_WORKERS: dict[str, Callable[[Container], Worker]] = {
    "project": lambda container: container.projection_engine(),
    "seal": lambda container: container.sealer(),
    "relay": lambda container: RelayThread(container.relay()),
    "scheduler": lambda container: container.scheduler(),
}


class _Server(uvicorn.Server):
    """uvicorn's server, telling us once its sockets are listening."""

    def __init__(self, config: uvicorn.Config, on_started: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self._on_started()


WORKER_HEALTHCHECK_SECONDS = 60
UVICORN_OPTIONS: dict[str, Any] = {
    "http": ProblemHttpProtocol,
    "log_level": "warning",
    "access_log": False,
    "lifespan": "on",
    "timeout_graceful_shutdown": 3,
    # Idle keep-alive connections outlive clients' own expiry, so a client never reuses
    # a connection the server is closing at that moment.
    "timeout_keep_alive": 30,
}


def serve_api(settings: Settings, on_started: Callable[[], None] = lambda: None) -> None:
    """The API in this process until a signal; with ``api_workers`` above one, that many
    worker processes share the port (one per core uses every core; the GIL keeps one
    process to about one) and this process supervises them."""
    if settings.api_workers > 1:
        os.environ.update(settings.url_environment())  # the workers read their settings
        uvicorn.run(
            "api.app:app_from_env",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.api_workers,
            # uvicorn's supervisor kills a worker whose ping thread has not answered in
            # time; a worker busy under load can miss the default 5 s behind the GIL,
            # and the kill resets every connection it holds.
            timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
            **UVICORN_OPTIONS,
        )
        return
    config = uvicorn.Config(
        create_app(settings), host=settings.host, port=settings.port, **UVICORN_OPTIONS
    )
    _Server(config, on_started).run()


def ensure_dev_key(settings: Settings) -> str:
    """The development key of tenant ``default`` with every scope, created once."""
    path = settings.data_dir / DEV_KEY_FILE
    container = Container.build(settings)
    try:
        if path.exists() and container.identity.is_valid(token := path.read_text().strip()):
            return token
        context = CommandContext(tenant_id=DEV_TENANT, actor="chronicle:up", command="keys.create")
        issued = container.portal.call(
            container.identity.issue_key, context, DEV_TENANT, "development", list(SCOPES)
        )
    finally:
        container.close()
    path.write_text(issued.token + "\n")
    path.chmod(0o600)
    return issued.token


class PortTaken(RuntimeError):
    """The API's port is not free, so `up` starts nothing."""


def check_port(host: str, port: int) -> None:
    """Raise `PortTaken` unless the API can listen on ``host:port`` (bound as uvicorn binds)."""
    try:
        with _bound(host, port):
            return
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise PortTaken(f"cannot listen on {host}:{port}: {error.strerror}") from None
    free = next((p for p in range(port + 1, min(port + 100, 65536)) if _free(host, p)), None)
    example = f", e.g. CHRONICLE_PORT={free} make run" if free else ""
    raise PortTaken(
        f"port {port} on {host} is already in use; choose another with CHRONICLE_PORT{example}"
    )


def _bound(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _free(host: str, port: int) -> bool:
    try:
        _bound(host, port).close()
    except OSError:
        return False
    return True


def run_up(settings: Settings, console: Console) -> None:
    """Embedded servers for every unset URL, the dev key, then the API until a signal."""
    began = time.monotonic()
    check_port(settings.host, settings.port)  # before anything is started or written
    data_dir = settings.data_dir.resolve()
    with data_dir_lock(data_dir), EmbeddedServers(data_dir).running() as servers:
        with console.status("starting embedded servers…"):
            resolved = settings.with_urls(
                settings.database_url or servers.postgres().url,
                settings.nats_url or servers.nats().url,
                settings.redis_url or servers.valkey().url,
            )
            token = ensure_dev_key(resolved)
        servers.supervise()  # from here on, a server that exits is started again
        write_runtime(resolved)

        def banner() -> None:
            base = f"http://{settings.host}:{settings.port}"
            console.print(
                f"\n[bold green]Chronicle is up[/bold green] in {time.monotonic() - began:.1f}s\n"
                f"  API:        {base}/v1\n"
                f"  API docs:   {base}/schema\n"
                f"  Readiness:  {base}/readyz\n"
                f"  Data:       {data_dir}\n"
                f"  Tenant:     {DEV_TENANT}\n"
                f"  API key:    {token}\n"
                f"              (also in {data_dir / DEV_KEY_FILE})\n\n"
                f'  Try: curl -H "Authorization: Bearer $(cat {data_dir / DEV_KEY_FILE})" \\\n'
                f'         --json \'{{"title": "Hello"}}\' {base}/v1/conversations\n\n'
                "Press Ctrl-C to stop.",
                highlight=False,
                soft_wrap=True,
            )

        container = Container.build(resolved)
        workers = [build(container) for build in UP_WORKERS.values()]
        for worker in workers:
            worker.start()
        try:
            serve_api(resolved, banner)
        finally:
            remove_runtime(data_dir)
            console.print("stopping…", highlight=False)
            for worker in reversed(workers):
                worker.stop()
            container.close()


def run_relay(settings: Settings) -> None:
    """The relay alone, until SIGINT or SIGTERM."""
    with servers_for(settings, need_bus=True) as resolved:
        container = Container.build(resolved)
        relay = container.relay()

        async def main() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await relay.run(stop)

        try:
            asyncio.run(main())
        finally:
            container.close()


def run_serve(settings: Settings) -> None:
    """The API alone, on the servers of the environment or of a running `chronicle up`."""
    with servers_for(settings, need_bus=True) as resolved:
        # Before any worker starts: a database that does not answer is one line from
        # the CLI (not a traceback per worker), and the schema is set up once.
        Container.build(resolved).close()
        serve_api(resolved)
