"""A small Server-Sent Events client for tests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass
class Frame:
    id: str | None = None
    event: str | None = None
    data: str | None = None
    comment: str | None = None

    @property
    def position(self) -> int:
        assert self.id is not None
        return int(self.id)

    @property
    def json(self) -> dict[str, Any]:
        assert self.data is not None
        body: dict[str, Any] = json.loads(self.data)
        return body


async def frames(response: httpx.Response) -> AsyncIterator[Frame]:
    frame = Frame()
    async for line in response.aiter_lines():
        if line == "":
            if frame != Frame():
                yield frame
            frame = Frame()
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "":
            frame.comment = value
            yield frame
            frame = Frame()
        elif field == "data":
            frame.data = value if frame.data is None else frame.data + "\n" + value
        elif field in ("id", "event"):
            setattr(frame, field, value)


async def collect(
    client: httpx.AsyncClient,
    count: int,
    *,
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> list[Frame]:
    """The first ``count`` event frames of /v1/live (keep-alives skipped)."""
    received: list[Frame] = []

    async def read() -> None:
        async with client.stream("GET", "/v1/live", params=params, headers=headers) as response:
            assert response.status_code == 200, await response.aread()
            async for frame in frames(response):
                if frame.comment is None:
                    received.append(frame)
                    if len(received) >= count or frame.event == "resync":
                        return

    await asyncio.wait_for(read(), timeout)
    return received
