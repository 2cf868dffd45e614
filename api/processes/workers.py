"""The process kinds that run beside the API: in `chronicle up` on threads (`UP_WORKERS`),
and each alone under its own `chronicle` command (`run_relay` for the relay).

A kind added here needs its command, its healthcheck and its docker-compose service.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from typing import Protocol

from api.bootstrap import Container
from infrastructure.relay import RelayThread
from infrastructure.runtime import servers_for
from infrastructure.settings import Settings


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
    "webhooks": lambda container: container.webhook_worker(),
    "alerts": lambda container: container.alert_evaluator(),
}


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
