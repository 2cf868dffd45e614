"""The client's core under every operation: authentication, an Idempotency-Key per command
kept across retries, retries with backoff on lost connections and 503, If-Match, the
read-your-writes position, and problem+json mapped to typed exceptions.

The generated ``operations.py`` builds a `Call` per method and hands it to `SyncTransport`
or `AsyncTransport`; only the waiting differs between the two.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx
import msgspec

from chronicle_client.errors import ConnectionFailed, UnexpectedAnswer, api_error, retry_after

T = TypeVar("T")
RETRIED_STATUS = 503


@dataclass(frozen=True)
class Retry:
    """How the client retries a request that may be sent again (a read, or a command with
    its Idempotency-Key): ``attempts`` in all, waiting a random time up to ``backoff_s``
    doubled per attempt (at most ``max_backoff_s``), or the answer's ``Retry-After`` when
    longer. A ``Retry-After`` beyond ``max_retry_after_s`` is not waited for."""

    attempts: int = 4
    backoff_s: float = 0.2
    max_backoff_s: float = 5.0
    max_retry_after_s: float = 30.0

    def delay(self, attempt: int, after: float | None = None) -> float:
        """The wait before retry number ``attempt`` (from 0): full jitter."""
        backoff = random.uniform(0, min(self.max_backoff_s, self.backoff_s * 2**attempt))  # noqa: S311
        return backoff if after is None else max(backoff, after)


NO_RETRY = Retry(attempts=1)


@dataclass(frozen=True)
class Tagged(Generic[T]):
    """A read of one resource with its version (``ETag``): pass ``version`` as a command's
    ``if_match`` to write only if nobody changed it since."""

    value: T
    version: int | None
    etag: str | None


@dataclass
class Call:
    """One operation as a method asked for it (made by ``operations.py``)."""

    method: str
    path: str
    query: dict[str, Any] = field(default_factory=dict)
    body: msgspec.Struct | None = None
    headers: dict[str, str | None] = field(default_factory=dict)
    if_match: int | str | None = None
    idempotency_key: str | None = None
    command: bool = False  # takes an Idempotency-Key
    read_your_writes: bool | None = None  # None: not a read-model query


class _Positioned(msgspec.Struct):
    position: int | None = None


def _given(**values: Any) -> dict[str, Any]:
    """The arguments a caller gave (``None`` is "not given")."""
    return {name: value for name, value in values.items() if value is not None}


def _segment(value: object) -> str:
    """A path parameter, escaped."""
    return quote(str(value), safe="")


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def etag_value(version: int | str) -> str:
    """``If-Match`` for a version: ``12`` → ``"12"`` (an ETag as read is sent as it is)."""
    text = str(version)
    return text if text.startswith('"') else f'"{text}"'


def version_of(etag: str | None) -> int | None:
    if etag is None:
        return None
    try:
        return int(etag.strip('W/"'))
    except ValueError:
        return None


@dataclass
class _Prepared:
    method: str
    url: str
    params: dict[str, str]
    content: bytes | None
    headers: dict[str, str]
    retriable: bool


class _Core:
    """What the sync and async clients share: settings and everything but the I/O."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        token: str | None = None,
        read_your_writes: bool = False,
        retry: Retry | None = None,
        timeout: float = 30.0,
        headers: dict[str, str] | None = None,
    ) -> None:
        if api_key and token:
            raise ValueError("give an api_key or a user token, not both")
        self.base_url = base_url.rstrip("/")
        self.read_your_writes = read_your_writes
        self.retry = retry or Retry()
        self.timeout = timeout
        self.last_position = 0  # the position of the last event this client wrote
        self.headers = {"User-Agent": "chronicle-client", **(headers or {})}
        if api_key or token:
            self.headers["Authorization"] = f"Bearer {api_key or token}"

    def remember(self, position: int | None) -> None:
        """Note a position written (by this client, or by another one it should follow)."""
        if position is not None and position > self.last_position:
            self.last_position = position

    def _prepare(self, call: Call) -> _Prepared:
        """The request of one logical call: its Idempotency-Key is chosen here, once, so
        that every retry of the call carries the same one."""
        query = {name: _query_value(v) for name, v in call.query.items() if v is not None}
        wants = self.read_your_writes if call.read_your_writes is None else call.read_your_writes
        if "min_position" in call.query and "min_position" not in query and wants:
            query["min_position"] = str(self.last_position)
        headers = {name: value for name, value in call.headers.items() if value is not None}
        if call.command:
            headers["Idempotency-Key"] = call.idempotency_key or str(uuid.uuid4())
        if call.if_match is not None:
            headers["If-Match"] = etag_value(call.if_match)
        content = None
        if call.body is not None:
            content = msgspec.json.encode(call.body)
            headers["Content-Type"] = "application/json"
        return _Prepared(
            call.method,
            call.path,
            query,
            content,
            headers,
            retriable=call.method == "GET" or call.command,
        )

    def _may_retry(self, prepared: _Prepared, attempt: int, error: Exception | None) -> bool:
        if attempt + 1 >= self.retry.attempts:
            return False
        # A connection never made sent nothing: any request may go again.
        return prepared.retriable or isinstance(error, httpx.ConnectError)

    def _retry_after(self, response: httpx.Response) -> float | None:
        """The wait before retrying a 503; ``None`` when it must not be retried."""
        after = retry_after(_headers(response))
        if after is not None and after > self.retry.max_retry_after_s:
            return None
        return after if after is not None else 0.0

    def _decode(self, call: Call, response: httpx.Response, answer: type[T]) -> T:
        if response.status_code >= 400:
            raise api_error(response.status_code, _headers(response), response.content)
        try:
            if call.method != "GET" and response.content:
                self.remember(msgspec.json.decode(response.content, type=_Positioned).position)
            return msgspec.json.decode(response.content, type=answer)
        except (msgspec.DecodeError, msgspec.ValidationError) as error:
            raise UnexpectedAnswer(f"{call.method} {call.path}: {error}") from error

    def _tagged(self, call: Call, response: httpx.Response, answer: type[T]) -> Tagged[T]:
        value = self._decode(call, response, answer)
        etag = response.headers.get("etag")
        return Tagged(value, version_of(etag), etag)

    def _text(self, response: httpx.Response) -> str:
        if response.status_code >= 400:
            raise api_error(response.status_code, _headers(response), response.content)
        return response.text


def _headers(response: httpx.Response) -> dict[str, str]:
    return {name.lower(): value for name, value in response.headers.items()}


class SyncTransport(_Core):
    """The blocking client's I/O, over an ``httpx.Client``."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        token: str | None = None,
        read_your_writes: bool = False,
        retry: Retry | None = None,
        timeout: float = 30.0,
        headers: dict[str, str] | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        super().__init__(
            base_url,
            api_key=api_key,
            token=token,
            read_your_writes=read_your_writes,
            retry=retry,
            timeout=timeout,
            headers=headers,
        )
        self.http = http or httpx.Client(timeout=self.timeout)
        self.http.base_url = httpx.URL(self.base_url)
        self.http.headers.update(self.headers)

    def _request(self, call: Call) -> httpx.Response:
        prepared = self._prepare(call)
        attempt = 0
        while True:
            try:
                response = self.http.request(
                    prepared.method,
                    prepared.url,
                    params=prepared.params,
                    content=prepared.content,
                    headers=prepared.headers,
                )
            except httpx.TransportError as error:
                if not self._may_retry(prepared, attempt, error):
                    raise ConnectionFailed(str(error) or type(error).__name__) from error
                time.sleep(self.retry.delay(attempt))
                attempt += 1
                continue
            if response.status_code == RETRIED_STATUS and self._may_retry(prepared, attempt, None):
                after = self._retry_after(response)
                if after is not None:
                    time.sleep(self.retry.delay(attempt, after))
                    attempt += 1
                    continue
            return response

    def _send(self, call: Call, answer: type[T]) -> T:
        return self._decode(call, self._request(call), answer)

    def _send_optional(self, call: Call, answer: type[T]) -> T | None:
        response = self._request(call)
        return None if response.status_code == 204 else self._decode(call, response, answer)

    def _send_tagged(self, call: Call, answer: type[T]) -> Tagged[T]:
        return self._tagged(call, self._request(call), answer)

    def _send_text(self, call: Call) -> str:
        return self._text(self._request(call))


class AsyncTransport(_Core):
    """The asyncio client's I/O, over an ``httpx.AsyncClient``."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        token: str | None = None,
        read_your_writes: bool = False,
        retry: Retry | None = None,
        timeout: float = 30.0,
        headers: dict[str, str] | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(
            base_url,
            api_key=api_key,
            token=token,
            read_your_writes=read_your_writes,
            retry=retry,
            timeout=timeout,
            headers=headers,
        )
        self.http = http or httpx.AsyncClient(timeout=self.timeout)
        self.http.base_url = httpx.URL(self.base_url)
        self.http.headers.update(self.headers)

    async def _request(self, call: Call) -> httpx.Response:
        prepared = self._prepare(call)
        attempt = 0
        while True:
            try:
                response = await self.http.request(
                    prepared.method,
                    prepared.url,
                    params=prepared.params,
                    content=prepared.content,
                    headers=prepared.headers,
                )
            except httpx.TransportError as error:
                if not self._may_retry(prepared, attempt, error):
                    raise ConnectionFailed(str(error) or type(error).__name__) from error
                await asyncio.sleep(self.retry.delay(attempt))
                attempt += 1
                continue
            if response.status_code == RETRIED_STATUS and self._may_retry(prepared, attempt, None):
                after = self._retry_after(response)
                if after is not None:
                    await asyncio.sleep(self.retry.delay(attempt, after))
                    attempt += 1
                    continue
            return response

    async def _send(self, call: Call, answer: type[T]) -> T:
        return self._decode(call, await self._request(call), answer)

    async def _send_optional(self, call: Call, answer: type[T]) -> T | None:
        response = await self._request(call)
        return None if response.status_code == 204 else self._decode(call, response, answer)

    async def _send_tagged(self, call: Call, answer: type[T]) -> Tagged[T]:
        return self._tagged(call, await self._request(call), answer)

    async def _send_text(self, call: Call) -> str:
        return self._text(await self._request(call))
