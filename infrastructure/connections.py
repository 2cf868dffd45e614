"""Connections to NATS and to Valkey/Redis, made to survive the server going away."""

from __future__ import annotations

import asyncio
import contextlib

import nats
import redis.asyncio as aioredis
import structlog
from nats.aio.client import Client as NatsClient
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

log = structlog.get_logger(__name__)


class NatsConnection:
    """A NATS client that keeps trying to connect, then reconnects for ever."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client: NatsClient | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._connect_forever())

    async def _connect_forever(self) -> None:
        delay = 0.1
        while True:
            try:
                self.client = await nats.connect(
                    self.url,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.5,
                    connect_timeout=2,
                    error_cb=self._on_error,
                    disconnected_cb=self._on_disconnected,
                    reconnected_cb=self._on_reconnected,
                )
            except Exception as error:
                log.warning("nats connect failed", url=self.url, error=str(error))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            else:
                return

    async def _on_error(self, error: Exception) -> None:
        log.warning("nats error", error=str(error))

    async def _on_disconnected(self) -> None:
        log.warning("nats disconnected")

    async def _on_reconnected(self) -> None:
        log.info("nats reconnected")

    async def ping(self) -> None:
        client = self.client
        if client is None or not client.is_connected:
            raise ConnectionError("not connected to NATS")
        await client.flush(timeout=1)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.client is not None and not self.client.is_closed:
            with contextlib.suppress(Exception):
                await self.client.drain()


def redis_client(url: str) -> aioredis.Redis:
    """A client that rides out a restart of Valkey (about a second under `chronicle up`)
    by retrying a command for up to 1.5 s before its caller sees the error."""
    return aioredis.from_url(
        url,
        socket_connect_timeout=2,
        socket_timeout=2,
        retry=Retry(ExponentialBackoff(cap=0.4, base=0.05), retries=5),
    )
