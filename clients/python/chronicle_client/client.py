"""`Client` (blocking) and `AsyncClient` (asyncio): every operation of Chronicle's API as a
typed method, plus ``live``, the resuming follower of ``/v1/live``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Generator, Iterable
from types import TracebackType

import httpx

from chronicle_client.errors import ApiError, RateLimited, Unavailable, api_error
from chronicle_client.live import LIVE_PATH, READ_TIMEOUT_S, Cursor, FrameParser, LiveEvent
from chronicle_client.operations import AsyncOperations, Operations

__all__ = ["AsyncClient", "Client"]


def _live_timeout(timeout: float) -> httpx.Timeout:
    return httpx.Timeout(timeout, read=READ_TIMEOUT_S)


def _refusal(response: httpx.Response, content: bytes) -> tuple[ApiError, float | None]:
    """The error a live connection was refused with, and whether to try again (a wait)."""
    headers = {name.lower(): value for name, value in response.headers.items()}
    error = api_error(response.status_code, headers, content)
    if isinstance(error, RateLimited | Unavailable):
        return error, error.retry_after or 0.0
    return error, None


class Client(Operations):
    """A blocking Chronicle client.

    ``Client(url, api_key=...)`` (or ``token=`` for a user token); ``read_your_writes=True``
    makes every read-model query wait for this client's last write. Use it as a context
    manager, or call `close`.
    """

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def live(
        self, subjects: Iterable[str] = ("*",), cursor: int | None = None
    ) -> Generator[LiveEvent, None, None]:
        """Every event the key may see on ``subjects`` after ``cursor`` (``None``: from
        now), then live, for ever. A lost connection is resumed with ``Last-Event-ID``
        (after a backoff), so nothing is missed or seen twice; a ``resync`` resumes at
        once from the cursor the server names. A refusal other than 429/503 raises."""
        state = Cursor(subjects, cursor)
        failures = 0
        while True:
            wait: float | None = 0.0
            try:
                with self.http.stream(
                    "GET",
                    LIVE_PATH,
                    params=state.params(),
                    headers=state.headers(),
                    timeout=_live_timeout(self.timeout),
                ) as response:
                    if response.status_code != 200:
                        error, wait = _refusal(response, response.read())
                        if wait is None:
                            raise error
                    else:
                        parser = FrameParser()
                        resyncs = state.resyncs
                        for line in response.iter_lines():
                            frame = parser.feed(line)
                            if frame is None:
                                continue
                            for event in state.take(frame):
                                failures = 0
                                yield event
                            if state.resyncs != resyncs:
                                break
                        if state.resyncs != resyncs:
                            continue
            except httpx.TransportError:
                pass
            time.sleep(self.retry.delay(failures, wait or None))
            failures = min(failures + 1, 10)

    follow_live = live


class AsyncClient(AsyncOperations):
    """An asyncio Chronicle client (the same methods as `Client`, awaited)."""

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self.http.aclose()

    async def live(
        self, subjects: Iterable[str] = ("*",), cursor: int | None = None
    ) -> AsyncGenerator[LiveEvent, None]:
        """As `Client.live`, for asyncio."""
        state = Cursor(subjects, cursor)
        failures = 0
        while True:
            wait: float | None = 0.0
            try:
                async with self.http.stream(
                    "GET",
                    LIVE_PATH,
                    params=state.params(),
                    headers=state.headers(),
                    timeout=_live_timeout(self.timeout),
                ) as response:
                    if response.status_code != 200:
                        error, wait = _refusal(response, await response.aread())
                        if wait is None:
                            raise error
                    else:
                        parser = FrameParser()
                        resyncs = state.resyncs
                        async for line in response.aiter_lines():
                            frame = parser.feed(line)
                            if frame is None:
                                continue
                            for event in state.take(frame):
                                failures = 0
                                yield event
                            if state.resyncs != resyncs:
                                break
                        if state.resyncs != resyncs:
                            continue
            except httpx.TransportError:
                pass
            await asyncio.sleep(self.retry.delay(failures, wait or None))
            failures = min(failures + 1, 10)

    follow_live = live
