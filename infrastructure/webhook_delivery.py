"""The deliverer: POSTs each recorded delivery to its webhook, signed per Standard
Webhooks, one at a time per webhook in log order (a later event waits while an earlier
one is retried), with exponential backoff and jitter, a dead letter after the last
attempt, and a disabled webhook after repeated dead letters. A body is stored with its
personal values sealed and opened just before it is signed and sent; values whose key is
gone (an erased subject) are sent as ``null``, named under ``_privacy``.

Requests go only to the webhook's URL, with a total timeout, never following a redirect
(a 3xx is a failure) and, unless allowed, never to a loopback or private address: a name
is resolved, its addresses checked, and the request sent to the address checked.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import random
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import httpx
import psycopg
import structlog
from psycopg.rows import dict_row
from standardwebhooks.webhooks import Webhook as Signer

from domain.webhook import is_private_host
from infrastructure.event_log import AsyncConn
from infrastructure.log_follower import TRANSIENT, AsyncLogFollower, Retrying
from infrastructure.personal_fields import PersonalFields
from infrastructure.subject_keys import KeysNotLoaded
from infrastructure.webhooks import WebhookDispatcher, hold_lock

log = structlog.get_logger(__name__)

DELIVER_LOCK = 0x57_48_44_4C  # "WHDL"
ERROR_MAX_CHARS = 500
CONTENT_TYPE = "application/cloudevents+json"
_HEADS = (
    "SELECT DISTINCT ON (d.webhook_id) d.delivery_id, d.webhook_id, d.tenant_id, d.body,"
    " d.attempts, d.next_attempt_at <= now() AS due, w.url, s.secret"
    " FROM chronicle_webhook_deliveries d JOIN chronicle_webhooks w USING (webhook_id)"
    " LEFT JOIN chronicle_webhook_secrets s USING (webhook_id)"
    " WHERE w.active AND d.status IN ('pending', 'retrying')"
    " AND NOT (d.webhook_id = ANY(%s)) ORDER BY d.webhook_id, d.position"
)
# A webhook's earliest waiting delivery (its sender goes on with it, if it is due).
_NEXT = (
    "SELECT d.delivery_id, d.webhook_id, d.tenant_id, d.body, d.attempts,"
    " d.next_attempt_at <= now() AS due, w.url, s.secret"
    " FROM chronicle_webhook_deliveries d JOIN chronicle_webhooks w USING (webhook_id)"
    " LEFT JOIN chronicle_webhook_secrets s USING (webhook_id)"
    " WHERE d.webhook_id = %s AND w.active AND d.status IN ('pending', 'retrying')"
    " ORDER BY d.position LIMIT 1"
)
_DELIVERED = (
    "WITH done AS (UPDATE chronicle_webhook_deliveries SET status = 'delivered',"
    " attempts = attempts + 1, response_code = %s, last_error = NULL, updated_at = now()"
    " WHERE delivery_id = %s RETURNING webhook_id)"
    " UPDATE chronicle_webhooks SET dead_in_row = 0"
    " WHERE webhook_id IN (SELECT webhook_id FROM done)"
)
_FAILED = (
    "UPDATE chronicle_webhook_deliveries SET status = %s, attempts = attempts + 1,"
    " response_code = %s, last_error = %s, next_attempt_at = now() + make_interval(secs => %s),"
    " updated_at = now() WHERE delivery_id = %s"
)
# Finished deliveries past their keeping, a bounded batch at a time (short locks).
_FORGET = (
    "DELETE FROM chronicle_webhook_deliveries WHERE delivery_id IN (SELECT delivery_id"
    " FROM chronicle_webhook_deliveries WHERE status IN ('delivered', 'dead')"
    " AND updated_at < now() - make_interval(days => %s) LIMIT %s)"
)
FORGET_BATCH = 1000
FORGET_EVERY_S = 600.0
_DEAD = (
    "UPDATE chronicle_webhooks SET dead_in_row = dead_in_row + 1 WHERE webhook_id = %s"
    " RETURNING dead_in_row, tenant_id"
)


@dataclass(frozen=True)
class DeliveryPolicy:
    """How hard to try: attempts, backoff, the timeout of one, when to give up on a webhook."""

    timeout_s: float = 10.0
    max_attempts: int = 8
    first_delay_s: float = 1.0
    most_delay_s: float = 600.0
    disable_after: int = 5  # dead letters in a row
    keep_days: int = 30  # a delivered or dead delivery, since its last attempt
    allow_private: bool = False
    concurrency: int = 64  # webhooks delivered to at once

    def delay(self, attempts: int) -> float:
        """Before attempt ``attempts + 1``: doubling from the first delay up to the most,
        half of it random (so failing webhooks do not retry in step)."""
        base = min(self.first_delay_s * 2 ** max(attempts - 1, 0), self.most_delay_s)
        return float(base / 2 + random.uniform(0, base / 2))  # noqa: S311 - jitter, not a secret


@dataclass(frozen=True)
class Outcome:
    code: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None


def signed_headers(secret: str, delivery_id: str, body: bytes, at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt (its id is the same on every retry)."""
    signature = Signer(secret).sign(delivery_id, at, body.decode())
    return {
        "webhook-id": delivery_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
        "content-type": CONTENT_TYPE,
        "user-agent": "Chronicle-Webhooks/1",
    }


@dataclass(frozen=True)
class Target:
    """Where one attempt connects: the URL itself or, once its host's addresses are
    checked, the address checked (so a second lookup cannot answer another: DNS
    rebinding), with the name kept for ``Host`` and TLS (SNI and the certificate)."""

    url: str
    headers: dict[str, str]
    extensions: dict[str, Any]


def pinned(url: str, address: str) -> Target:
    """``url`` sent to ``address`` (an IP) as if to its host."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    ip = f"[{address}]" if ":" in address else address
    netloc = f"{ip}:{parts.port}" if parts.port is not None else ip
    host_header = f"{host}:{parts.port}" if parts.port is not None else host
    extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
    return Target(parts._replace(netloc=netloc).geturl(), {"host": host_header}, extensions)


async def target(url: str, allow_private: bool) -> Target | str:
    """Where to send ``url`` (pinned to a global address it resolves to), or why it
    must not be sent: it names or resolves to a loopback or private address."""
    if allow_private:
        return Target(url, {}, {})
    parts = urlsplit(url)
    host = parts.hostname or ""
    if is_private_host(host):
        return "refused: the URL names a loopback or private address"
    try:
        found = await asyncio.get_running_loop().getaddrinfo(
            host, parts.port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM
        )
    except (OSError, UnicodeError) as error:
        return f"could not resolve {host}: {error}"[:ERROR_MAX_CHARS]
    addresses = [str(address[0]).split("%")[0] for *_, address in found]
    if not addresses or not all(ipaddress.ip_address(a).is_global for a in addresses):
        return f"refused: {host} resolves to a private address"
    return pinned(url, addresses[0])


async def attempt(
    http: httpx.AsyncClient, policy: DeliveryPolicy, url: str, headers: dict[str, str], body: bytes
) -> Outcome:
    """One POST, within the policy's timeout overall; only a 2xx is a success."""

    async def send() -> Outcome:
        to = await target(url, policy.allow_private)
        if isinstance(to, str):
            return Outcome(None, to)
        response = await http.post(
            to.url, content=body, headers=headers | to.headers, extensions=to.extensions
        )
        await response.aclose()
        code = response.status_code
        if 200 <= code < 300:
            return Outcome(code, None)
        if 300 <= code < 400:
            return Outcome(code, f"redirect ({code}) not followed")
        return Outcome(code, f"HTTP {code}")

    try:
        return await asyncio.wait_for(send(), policy.timeout_s)
    except TimeoutError:
        return Outcome(None, f"no answer within {policy.timeout_s:g}s")
    except Exception as error:  # a tenant's URL: whatever it does is its attempt's failure
        return Outcome(None, f"{type(error).__name__}: {error}"[:ERROR_MAX_CHARS])


Disable = Callable[[str, UUID], Awaitable[None]]


class WebhookDeliverer:
    """Sends the head delivery of each active webhook when it is due; one active
    deliverer at a time (an advisory lock)."""

    def __init__(
        self,
        dsn: str,
        policy: DeliveryPolicy,
        disable: Disable,
        personal: PersonalFields,
        *,
        tick_s: float = 0.25,
    ) -> None:
        self.dsn = dsn
        self.policy = policy
        self.disable = disable  # records that a webhook is disabled (tenant, webhook id)
        self.personal = personal  # opens the sealed personal values of a body
        # Set while the dispatcher beside it leads: it is what tells this deliverer's keys
        # of erasures, so the deliverer sends nothing while another process's dispatcher
        # leads (None: no such condition).
        self.leading: asyncio.Event | None = None
        self.tick_s = tick_s
        self.wake = asyncio.Event()
        retrying = Retrying("webhook deliverer", expected=(*TRANSIENT, OSError))
        self.follower = AsyncLogFollower(dsn, retrying)

    async def run(self, stop: asyncio.Event) -> None:
        await self.follower.supervise(lambda: self._deliver(stop), stop)

    async def _deliver(self, stop: asyncio.Event) -> None:
        if not await self._led(stop):
            return
        async with (
            await psycopg.AsyncConnection.connect(
                self.dsn, autocommit=True, row_factory=dict_row
            ) as conn,
            httpx.AsyncClient(follow_redirects=False, trust_env=False) as http,
        ):
            if not await hold_lock(conn, DELIVER_LOCK, stop, 1.0):
                return
            sending: dict[UUID, asyncio.Task[None]] = {}
            forgotten_at = -FORGET_EVERY_S
            try:
                while not stop.is_set() and (self.leading is None or self.leading.is_set()):
                    if time.monotonic() - forgotten_at >= FORGET_EVERY_S:
                        await forget_finished(conn, self.policy.keep_days)
                        forgotten_at = time.monotonic()
                    for row in await self._due(conn, list(sending)):
                        sending[row["webhook_id"]] = asyncio.create_task(
                            self._send(conn, http, row)
                        )
                    await self._pause(stop, sending)
                    for webhook_id, task in list(sending.items()):
                        if task.done():
                            del sending[webhook_id]
                            task.result()  # a lost connection ends the session here
            finally:
                for task in sending.values():
                    task.cancel()
                with contextlib.suppress(BaseException):
                    await asyncio.gather(*sending.values(), return_exceptions=True)

    async def _led(self, stop: asyncio.Event) -> bool:
        """Wait until the dispatcher beside this deliverer leads; False on a stop."""
        if self.leading is None or self.leading.is_set():
            return not stop.is_set()
        waits = {asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self.leading.wait())}
        _, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for future in pending:
            future.cancel()
        return not stop.is_set()

    async def _due(self, conn: AsyncConn, busy: list[UUID]) -> list[dict[str, Any]]:
        room = self.policy.concurrency - len(busy)
        if room <= 0:
            return []
        rows = await (await conn.execute(_HEADS, (busy,))).fetchall()
        return [row for row in rows if row["due"]][:room]

    async def _pause(self, stop: asyncio.Event, sending: dict[UUID, asyncio.Task[None]]) -> None:
        """Until a tick passes, new deliveries are recorded, a send ends, or a stop."""
        self.wake.clear()
        waits: set[asyncio.Future[Any]] = {
            asyncio.ensure_future(stop.wait()),
            asyncio.ensure_future(self.wake.wait()),
            *sending.values(),
        }
        _, pending = await asyncio.wait(
            waits, timeout=self.tick_s, return_when=asyncio.FIRST_COMPLETED
        )
        for future in pending:
            if future not in sending.values():
                future.cancel()

    async def _send(self, conn: AsyncConn, http: httpx.AsyncClient, row: dict[str, Any]) -> None:
        """Send ``row``, then the webhook's next delivery while each succeeds and the next
        is due (a failure leaves the next in line for its retry)."""
        found: dict[str, Any] | None = row
        while found is not None and await self._send_one(conn, http, found):
            found = await (await conn.execute(_NEXT, (row["webhook_id"],))).fetchone()
            if found is not None and not found["due"]:
                found = None

    async def _send_one(
        self, conn: AsyncConn, http: httpx.AsyncClient, row: dict[str, Any]
    ) -> bool:
        """One attempt at one delivery, and its outcome recorded; whether it succeeded."""
        delivery_id, webhook_id = row["delivery_id"], row["webhook_id"]
        began = time.monotonic()
        if row["secret"] is None:
            outcome = Outcome(None, "no signing secret is kept for this webhook")
        else:
            body = await self._opened(bytes(row["body"]))
            headers = signed_headers(row["secret"], str(delivery_id), body, datetime.now(UTC))
            outcome = await attempt(http, self.policy, row["url"], headers, body)
        if outcome.ok:
            await conn.execute(_DELIVERED, (outcome.code, delivery_id))
            return True
        attempts = row["attempts"] + 1
        dead = attempts >= self.policy.max_attempts
        delay = 0.0 if dead else self.policy.delay(attempts)
        log.warning(
            "webhook delivery failed",
            webhook=str(webhook_id),
            delivery=str(delivery_id),
            attempt=attempts,
            error=outcome.error,
            dead=dead,
            retry_in_s=round(delay, 3),
            took_s=round(time.monotonic() - began, 3),
        )
        status = "dead" if dead else "retrying"
        await conn.execute(_FAILED, (status, outcome.code, outcome.error, delay, delivery_id))
        if dead:
            found = await (await conn.execute(_DEAD, (webhook_id,))).fetchone()
            if found and found["dead_in_row"] >= self.policy.disable_after:
                await conn.execute(
                    "UPDATE chronicle_webhooks SET active = false WHERE webhook_id = %s",
                    (webhook_id,),
                )
                try:
                    await self.disable(found["tenant_id"], webhook_id)
                except Exception as error:  # it stays inactive here; the event is missing
                    log.warning(
                        "could not record a disabled webhook",
                        webhook=str(webhook_id),
                        error=f"{type(error).__name__}: {error}",
                    )
        return False

    async def _opened(self, stored: bytes) -> bytes:
        """The body to send: the stored CloudEvent with its personal values opened (those
        that do not open read as ``null``, never a failed delivery). A key this process has
        not read yet is read in a thread, off the loop; the database being away is a lost
        session, retried."""
        try:
            return self.personal.open_cloud_event(stored, may_load=False)
        except KeysNotLoaded:
            return await asyncio.to_thread(self.personal.open_cloud_event, stored, may_load=True)


async def forget_finished(conn: AsyncConn, keep_days: int) -> int:
    """Delete delivered and dead deliveries last tried over ``keep_days`` ago (their
    bodies hold the tenant's data); how many went."""
    forgotten = 0
    while True:
        cursor = await conn.execute(_FORGET, (keep_days, FORGET_BATCH))
        forgotten += cursor.rowcount
        if cursor.rowcount < FORGET_BATCH:
            return forgotten


class WebhooksThread:
    """The dispatcher and the deliverer on a thread and event loop of their own, beside a
    synchronous host process (`chronicle up`, `chronicle webhooks run`, the tests); the
    deliverer sends only while the dispatcher leads (it forgets erased subjects' keys)."""

    def __init__(self, dispatcher: WebhookDispatcher, deliverer: WebhookDeliverer) -> None:
        self.dispatcher = dispatcher
        self.deliverer = deliverer
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._thread = threading.Thread(target=self._main, name="webhooks", daemon=True)

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        self.dispatcher.recorded = lambda: self.deliverer.wake.set()
        self.deliverer.leading = self.dispatcher.leading
        self._loop.run_until_complete(
            asyncio.gather(self.dispatcher.run(self._stop), self.deliverer.run(self._stop))
        )
        self._loop.close()

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout)

    def wait(self) -> None:
        while self._thread.is_alive():
            self._thread.join(0.5)
