"""`chronicle serve`: the Litestar app under uvicorn, in this process or in several worker
processes sharing the port, which this process then supervises.

It serves; it builds no infrastructure of its own (the app's lifespan does).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import Any

import uvicorn

from api.bootstrap import Container
from api.http.app import create_app
from api.http.protocol import ProblemHttpProtocol
from infrastructure.metrics import multiprocess_directory
from infrastructure.runtime import servers_for
from infrastructure.settings import Settings


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
    # uvicorn's loggers go through Chronicle's own configuration (infrastructure/logs.py), at its
    # level; the access log is Chronicle's.
    "log_config": None,
    "log_level": None,
    "access_log": False,
    "lifespan": "on",
    "timeout_graceful_shutdown": 3,
    # Idle keep-alive connections outlive clients' own expiry, so a client never reuses
    # a connection the server is closing at that moment.
    "timeout_keep_alive": 30,
    # Live frames are small JSON: compressing each one for each connection costs the API
    # loop more than it saves on the wire (the documents bench: 79 ops/s with, 111 without).
    "ws_per_message_deflate": False,
}


def serve_api(settings: Settings, on_started: Callable[[], None] = lambda: None) -> None:
    """The API in this process until a signal; with ``api_workers`` above one, that many
    worker processes share the port (one per core uses every core; the GIL keeps one
    process to about one) and this process supervises them."""
    if settings.api_workers > 1:
        os.environ.update(settings.process_environment())  # the workers read their settings
        # The workers count their metrics in files there, which /metrics sums.
        with multiprocess_directory():
            uvicorn.run(
                "api.http.app:app_from_env",
                factory=True,
                host=settings.host,
                port=settings.port,
                workers=settings.api_workers,
                # uvicorn's supervisor kills a worker whose ping thread has not answered
                # in time; a worker busy under load can miss the default 5 s behind the
                # GIL, and the kill resets every connection it holds.
                timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
                **UVICORN_OPTIONS,
            )
        return
    config = uvicorn.Config(
        create_app(settings), host=settings.host, port=settings.port, **UVICORN_OPTIONS
    )
    _Server(config, on_started).run()


def run_serve(settings: Settings) -> None:
    """The API alone, on the servers of the environment or of a running `chronicle up`."""
    with servers_for(settings, need_bus=True) as resolved:
        # Before any worker starts: a database that does not answer is one line from
        # the CLI (not a traceback per worker), and the schema is set up once.
        Container.build(resolved).close()
        serve_api(resolved)
