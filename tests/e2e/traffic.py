"""Bounded traffic for fault tests: writers that send each message with an Idempotency-Key
of its own and retry it with that key until it is acknowledged, and a live client that
resumes with Last-Event-ID on every reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from tests.integration.sse import frames

RETRY_PAUSE_S = 0.1
T = TypeVar("T")


class Unexpected(AssertionError):
    """An answer a retry cannot mend (a 4xx other than 429)."""


@dataclass
class Outcomes:
    """What the server answered before each acknowledgement: statuses and transport errors."""

    seen: Counter[str] = field(default_factory=Counter)

    def note(self, what: str) -> None:
        self.seen[what] += 1


async def until_acknowledged(
    http: httpx.AsyncClient, path: str, body: dict[str, Any], outcomes: Outcomes
) -> dict[str, Any]:
    """POST ``body`` until a 2xx, always with the same Idempotency-Key; its answer."""
    key = str(uuid.uuid4())
    while True:
        try:
            answer = await http.post(path, json=body, headers={"Idempotency-Key": key})
        except httpx.TransportError as error:
            outcomes.note(type(error).__name__)
            await asyncio.sleep(RETRY_PAUSE_S)
            continue
        outcomes.note(str(answer.status_code))
        if answer.is_success:
            acknowledged: dict[str, Any] = answer.json()
            return acknowledged
        if answer.status_code < 500 and answer.status_code != 429:
            raise Unexpected(f"POST {path} answered {answer.status_code}: {answer.text}")
        retry_after = float(answer.headers.get("retry-after") or RETRY_PAUSE_S)
        await asyncio.sleep(min(retry_after, 1.0))


async def get_json(
    http: httpx.AsyncClient, path: str, params: dict[str, Any], deadline_s: float = 30
) -> httpx.Response:
    """GET until a 2xx (a server may still be coming back), within a deadline."""
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            answer = await http.get(path, params=params)
            if answer.is_success:
                return answer
            if answer.status_code < 500:
                raise Unexpected(f"GET {path} answered {answer.status_code}: {answer.text}")
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"GET {path} did not succeed in {deadline_s}s"
        await asyncio.sleep(RETRY_PAUSE_S)


@dataclass(frozen=True)
class Ack:
    """An acknowledged message: where it went, what the server answered, and when."""

    conversation: str
    message_id: str
    position: int
    sent_at: float  # first attempt (monotonic)
    acknowledged_at: float


class Writers:
    """``count`` writers posting to the conversations in turn until stopped."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        conversations: list[str],
        count: int = 3,
        pause_s: float = 0.01,
    ) -> None:
        self.http = http
        self.conversations = conversations
        self.count = count
        self.pause_s = pause_s
        self.acks: list[Ack] = []
        self.outcomes = Outcomes()
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._write(n)) for n in range(self.count)]

    async def stop(self) -> None:
        """Let each writer finish the message it is sending (until acknowledged)."""
        self._stop.set()
        await asyncio.gather(*self._tasks)

    async def cancel(self) -> None:
        """Stop at once (a test that failed)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _write(self, writer: int) -> None:
        sent = 0
        while not self._stop.is_set():
            conversation = self.conversations[(writer + sent) % len(self.conversations)]
            body = {"role": "user", "content": f"writer {writer} message {sent}"}
            began = time.monotonic()
            answer = await until_acknowledged(
                self.http, f"/v1/conversations/{conversation}/messages", body, self.outcomes
            )
            self.acks.append(
                Ack(conversation, answer["message_id"], answer["position"], began, time.monotonic())
            )
            sent += 1
            await asyncio.sleep(self.pause_s)

    async def until(self, acknowledged: int, timeout_s: float = 60) -> None:
        await _wait_for(lambda: len(self.acks) >= acknowledged, timeout_s, "acknowledgements")


class Reader:
    """Reads a conversation's history at the last acknowledged position until stopped."""

    def __init__(self, http: httpx.AsyncClient, writers: Writers, pause_s: float = 0.05) -> None:
        self.http = http
        self.writers = writers
        self.pause_s = pause_s
        self.answers = Outcomes()
        self.reached: list[tuple[float, int]] = []  # when, and the position the answer had
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._read())

    async def stop(self) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _read(self) -> None:
        while True:
            if self.writers.acks:
                last = self.writers.acks[-1]
                params = {"min_position": last.position, "limit": 1}
                path = f"/v1/conversations/{last.conversation}/messages"
                try:
                    answer = await self.http.get(path, params=params)
                except httpx.TransportError as error:
                    self.answers.note(type(error).__name__)
                else:
                    self.answers.note(str(answer.status_code))
                    if answer.is_success:
                        reached = int(answer.headers["chronicle-position"])
                        self.reached.append((time.monotonic(), reached))
            await asyncio.sleep(self.pause_s)


@dataclass(frozen=True)
class Delivery:
    position: int
    type: str
    at: float


class LiveClient:
    """Follows /v1/live from ``cursor``, reconnecting with Last-Event-ID after any error,
    and by itself every ``reconnect_every_s`` (so that faults also meet resumptions)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        subjects: list[str],
        cursor: int,
        reconnect_every_s: float = 1.0,
    ) -> None:
        self.http = http
        self.subjects = ",".join(subjects)
        self.last = cursor
        self.reconnect_every_s = reconnect_every_s
        self.delivered: list[Delivery] = []
        self.answers = Outcomes()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._follow())

    async def stop(self) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _follow(self) -> None:
        timeout = httpx.Timeout(5, read=30)  # keep-alives come every 15 s
        while True:
            headers = {"Last-Event-ID": str(self.last)}
            params = {"subjects": self.subjects}
            try:
                async with (
                    asyncio.timeout(self.reconnect_every_s),
                    self.http.stream(
                        "GET", "/v1/live", params=params, headers=headers, timeout=timeout
                    ) as response,
                ):
                    self.answers.note(str(response.status_code))
                    if response.status_code == 200:
                        await self._read(response)
            except TimeoutError:
                pass  # time to reconnect
            except httpx.HTTPError as error:
                self.answers.note(type(error).__name__)
            await asyncio.sleep(RETRY_PAUSE_S)

    async def _read(self, response: httpx.Response) -> None:
        async for frame in frames(response):
            if frame.comment is not None or frame.id is None:
                continue  # keep-alive, or a token delta
            if frame.event == "resync":
                self.last = frame.position
                return
            self.delivered.append(Delivery(frame.position, frame.event or "", time.monotonic()))
            self.last = frame.position

    async def until(self, positions: set[int], timeout_s: float = 30) -> None:
        def all_delivered() -> bool:
            return positions <= {d.position for d in self.delivered}

        await _wait_for(all_delivered, timeout_s, "live deliveries")


async def eventually(
    probe: Callable[[], Awaitable[T]],
    expected: T,
    what: str,
    *,
    at_least: bool = False,
    timeout_s: float = 30,
) -> None:
    """Until ``probe()`` gives ``expected`` (or more, ``at_least``); a probe may fail
    meanwhile (a server coming back)."""
    deadline = time.monotonic() + timeout_s
    seen: object = None
    while True:
        try:
            seen = await probe()
        except Exception as error:
            seen = error
        else:
            if seen == expected or (at_least and seen >= expected):  # type: ignore[operator]
                return
        assert time.monotonic() < deadline, f"{what}: {seen!r}, not {expected!r}"
        await asyncio.sleep(0.1)


async def _wait_for(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"{what}: not within {timeout_s}s"
        await asyncio.sleep(0.05)
