"""Webhooks' tables beside the log and the dispatcher that fills them: it follows the log
from its checkpoint and, in one transaction with the checkpoint, keeps each webhook's
subscription and records one delivery per matching event (so exactly once), its body the
CloudEvent as the relay publishes it: personal values sealed, never plaintext at rest.

The deliverer (``infrastructure.webhook_delivery``) sends what it records, opening the
bodies with keys the dispatcher tells it to forget when it reads their subject's erasure;
the API reads webhooks and deliveries here. Nothing here sends anything.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

import structlog
from psycopg.types.json import Jsonb

from domain.events import RecordedEvent
from domain.webhook import subscribes_to
from infrastructure.envelope import cloud_event, wire_type
from infrastructure.event_log import AsyncConn, LogReader, RowDecoder
from infrastructure.log_follower import AsyncFollowing, AsyncLogFollower, Retrying
from infrastructure.read_models import SETUP_LOCK, Conn, connect
from infrastructure.webhook_secrets import SECRETS_TABLE

log = structlog.get_logger(__name__)

DISPATCH_LOCK = 0x57_48_44_53  # "WHDS"
DELIVERY_NAMESPACE = UUID("5f0b8a52-1d5c-4b8e-9a36-2f1a7f0c9d11")
WEBHOOK_EVENTS = (
    "WebhookRegistered",
    "WebhookDisabled",
    "WebhookEnabled",
    "WebhookDeleted",
    "WebhookDeliveryRetried",
)
SUBJECT_ERASED = "SubjectErased"
DDL = (
    "CREATE TABLE IF NOT EXISTS chronicle_webhooks (webhook_id uuid PRIMARY KEY,"
    " tenant_id text NOT NULL, url text NOT NULL, events jsonb NOT NULL,"
    " active boolean NOT NULL DEFAULT true, disabled_reason text,"
    " dead_in_row integer NOT NULL DEFAULT 0, version integer NOT NULL,"
    " position bigint NOT NULL, created_at timestamptz NOT NULL,"
    " updated_at timestamptz NOT NULL)",
    "CREATE INDEX IF NOT EXISTS chronicle_webhooks_tenant ON chronicle_webhooks"
    " (tenant_id, position)",
    "CREATE TABLE IF NOT EXISTS chronicle_webhook_deliveries (delivery_id uuid PRIMARY KEY,"
    " webhook_id uuid NOT NULL, tenant_id text NOT NULL, position bigint NOT NULL,"
    " event_type text NOT NULL, body bytea NOT NULL, status text NOT NULL,"
    " attempts integer NOT NULL DEFAULT 0, next_attempt_at timestamptz NOT NULL,"
    " last_error text, response_code integer, created_at timestamptz NOT NULL DEFAULT now(),"
    " updated_at timestamptz NOT NULL DEFAULT now(), UNIQUE (webhook_id, position))",
    "CREATE INDEX IF NOT EXISTS chronicle_webhook_deliveries_waiting"
    " ON chronicle_webhook_deliveries (webhook_id, position)"
    " WHERE status IN ('pending', 'retrying')",
    f"CREATE TABLE IF NOT EXISTS {SECRETS_TABLE} (webhook_id uuid PRIMARY KEY,"
    " secret text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())",
    "CREATE TABLE IF NOT EXISTS chronicle_webhook_checkpoint (name text PRIMARY KEY,"
    " position bigint NOT NULL DEFAULT 0, updated_at timestamptz NOT NULL DEFAULT now())",
    "INSERT INTO chronicle_webhook_checkpoint (name) VALUES ('dispatcher') ON CONFLICT DO NOTHING",
)
_REGISTERED = (
    "INSERT INTO chronicle_webhooks (webhook_id, tenant_id, url, events, version, position,"
    " created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (webhook_id) DO NOTHING"
)
_DISABLED = (
    "UPDATE chronicle_webhooks SET active = false, disabled_reason = %s, version = %s,"
    " updated_at = %s WHERE webhook_id = %s"
)
_ENABLED = (
    "UPDATE chronicle_webhooks SET active = true, disabled_reason = NULL, dead_in_row = 0,"
    " version = %s, updated_at = %s WHERE webhook_id = %s RETURNING events"
)
# A deleted webhook leaves nothing behind: its row, its deliveries' bodies, its secret.
_DELETED = (
    "DELETE FROM chronicle_webhook_deliveries WHERE webhook_id = %(id)s",
    f"DELETE FROM {SECRETS_TABLE} WHERE webhook_id = %(id)s",  # noqa: S608
    "DELETE FROM chronicle_webhooks WHERE webhook_id = %(id)s",
)
_RETRIED = (
    "UPDATE chronicle_webhook_deliveries SET status = 'pending', attempts = 0,"
    " next_attempt_at = now(), updated_at = now() WHERE delivery_id = %s AND webhook_id = %s"
)
_VERSION = "UPDATE chronicle_webhooks SET version = %s, updated_at = %s WHERE webhook_id = %s"
_DELIVERY = (
    "INSERT INTO chronicle_webhook_deliveries (delivery_id, webhook_id, tenant_id, position,"
    " event_type, body, status, next_attempt_at) VALUES (%s, %s, %s, %s, %s, %s, 'pending',"
    " now()) ON CONFLICT DO NOTHING"
)
_CHECKPOINT = (
    "UPDATE chronicle_webhook_checkpoint SET position = %s, updated_at = now()"
    " WHERE name = 'dispatcher'"
)
_POSITION = "SELECT position FROM chronicle_webhook_checkpoint WHERE name = 'dispatcher'"


def ensure_webhook_tables(dsn: str) -> None:
    """Create the webhooks' tables once (processes starting together agree)."""
    with connect(dsn) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (SETUP_LOCK,))
        for statement in DDL:
            conn.execute(statement)


def delivery_id_of(webhook_id: UUID, position: int) -> UUID:
    """A delivery's id, the same each time it is recorded (its ``webhook-id`` header)."""
    return uuid5(DELIVERY_NAMESPACE, f"{webhook_id}:{position}")


Routes = dict[str, dict[UUID, list[str]]]  # tenant → webhook → patterns (active only)
Erased = Callable[[str, str], None]  # (tenant, subject)


class WebhookDispatcher:
    """Follows the log and records the deliveries of each event to each webhook it
    matches; one active dispatcher at a time (an advisory lock)."""

    def __init__(
        self,
        dsn: str,
        decode: RowDecoder[RecordedEvent],
        *,
        erased: Erased = lambda tenant, subject: None,
        recorded: Callable[[], None] = lambda: None,
        batch_size: int = 500,
        poll_seconds: float = 1.0,
    ) -> None:
        self.reader = LogReader(decode)
        self.erased = erased  # told of each erasure as it is read, before any later event
        self.recorded = recorded  # told after each batch that may have recorded deliveries
        self.leading = asyncio.Event()  # set while this dispatcher holds its lock
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.follower = AsyncLogFollower(
            dsn, Retrying("webhook dispatcher"), poll_seconds=poll_seconds
        )

    async def run(self, stop: asyncio.Event) -> None:
        await self.follower.supervise(lambda: self._dispatch(stop), stop)

    async def _dispatch(self, stop: asyncio.Event) -> None:
        async with self.follower.connected() as following:
            if not await hold_lock(following.conn, DISPATCH_LOCK, stop, self.poll_seconds):
                return
            self.leading.set()
            try:
                await self._lead(following, stop)
            finally:
                self.leading.clear()

    async def _lead(self, following: AsyncFollowing, stop: asyncio.Event) -> None:
        """Record deliveries from the checkpoint on, while this dispatcher holds its lock."""
        routes = await _routes(following.conn)
        row = await (await following.conn.execute(_POSITION)).fetchone()
        done: int = row["position"] if row else 0

        async def step(conn: AsyncConn) -> bool:
            nonlocal done
            rows = await self.reader.read_async(conn, done, self.batch_size)
            if not rows:
                return False
            events = self.reader.events(rows)
            async with conn.transaction(), conn.cursor() as cursor:
                for event in events:
                    if event.type == SUBJECT_ERASED:
                        self.erased(event.tenant_id, str(event.data.get("subject")))
                    await _apply(cursor, event, routes)
                await cursor.execute(_CHECKPOINT, (events[-1].position,))
            done = events[-1].position
            self.recorded()
            return True

        await self.follower.follow(following, step, stop)


async def hold_lock(conn: AsyncConn, key: int, stop: asyncio.Event, poll_s: float) -> bool:
    """Take the session's advisory lock ``key`` (waiting as a standby); False on a stop."""
    while not stop.is_set():
        row = await (await conn.execute("SELECT pg_try_advisory_lock(%s) AS ok", (key,))).fetchone()
        if row and row["ok"]:
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), poll_s)
    return False


async def _routes(conn: AsyncConn) -> Routes:
    rows = await (
        await conn.execute(
            "SELECT webhook_id, tenant_id, events FROM chronicle_webhooks WHERE active"
        )
    ).fetchall()
    routes: Routes = {}
    for row in rows:
        routes.setdefault(row["tenant_id"], {})[row["webhook_id"]] = list(row["events"])
    return routes


async def _apply(cursor: Any, event: RecordedEvent, routes: Routes) -> None:
    """Keep a webhook's own events; record a delivery to each webhook ``event`` matches."""
    tenant = event.tenant_id
    names = (event.type, wire_type(event))
    body: bytes | None = None
    for webhook_id, patterns in routes.get(tenant, {}).items():
        if subscribes_to(patterns, names):
            body = body if body is not None else cloud_event(event)
            await cursor.execute(
                _DELIVERY,
                (
                    delivery_id_of(webhook_id, event.position),
                    webhook_id,
                    tenant,
                    event.position,
                    event.type,
                    body,
                ),
            )
    if event.type not in WEBHOOK_EVENTS:
        return
    webhook_id, data, at = event.aggregate_id, event.data, event.recorded_at
    if event.type == "WebhookRegistered":
        await cursor.execute(
            _REGISTERED,
            (
                webhook_id,
                tenant,
                data["url"],
                Jsonb(data["events"]),
                event.version,
                event.position,
                at,
                at,
            ),
        )
        routes.setdefault(tenant, {})[webhook_id] = list(data["events"])
    elif event.type == "WebhookDisabled":
        await cursor.execute(_DISABLED, (data.get("reason", ""), event.version, at, webhook_id))
        routes.get(tenant, {}).pop(webhook_id, None)
    elif event.type == "WebhookEnabled":
        await cursor.execute(_ENABLED, (event.version, at, webhook_id))
        row = await cursor.fetchone()
        if row is not None:
            routes.setdefault(tenant, {})[webhook_id] = list(row["events"])
    elif event.type == "WebhookDeleted":
        for statement in _DELETED:
            await cursor.execute(statement, {"id": webhook_id})
        routes.get(tenant, {}).pop(webhook_id, None)
    else:
        await cursor.execute(_RETRIED, (UUID(data["delivery_id"]), webhook_id))
        await cursor.execute(_VERSION, (event.version, at, webhook_id))


# Queries the API answers from.

WEBHOOK_COLUMNS = (
    "webhook_id, url, events, active, disabled_reason, version, position, created_at, updated_at"
)
DELIVERY_COLUMNS = (
    "delivery_id, position, event_type, status, attempts, last_error, response_code,"
    " next_attempt_at, created_at, updated_at"
)


def dispatched_position(conn: Conn) -> int:
    """How far the dispatcher has followed the log."""
    row = conn.execute(_POSITION).fetchone()
    return int(row["position"]) if row else 0


def tenant_webhooks(
    conn: Conn, tenant_id: str, after: int | None, limit: int
) -> list[dict[str, Any]]:
    """Up to ``limit + 1`` of the tenant's webhooks registered after position ``after``."""
    return conn.execute(
        f"SELECT {WEBHOOK_COLUMNS} FROM chronicle_webhooks"  # noqa: S608
        " WHERE tenant_id = %s AND position > %s ORDER BY position LIMIT %s",
        (tenant_id, after or 0, limit + 1),
    ).fetchall()


def webhook_deliveries(
    conn: Conn, webhook_id: UUID, status: str | None, after: int | None, limit: int
) -> list[dict[str, Any]]:
    """Up to ``limit + 1`` of a webhook's deliveries after position ``after``, in order."""
    where = " AND status = %(status)s" if status else ""
    return conn.execute(
        f"SELECT {DELIVERY_COLUMNS} FROM chronicle_webhook_deliveries"  # noqa: S608
        f" WHERE webhook_id = %(webhook)s AND position > %(after)s{where}"
        " ORDER BY position LIMIT %(limit)s",
        {"webhook": webhook_id, "after": after or 0, "status": status, "limit": limit + 1},
    ).fetchall()


def find_delivery(
    conn: Conn, tenant_id: str, webhook_id: UUID, delivery_id: UUID
) -> dict[str, Any] | None:
    row: dict[str, Any] | None = conn.execute(
        f"SELECT {DELIVERY_COLUMNS} FROM chronicle_webhook_deliveries"  # noqa: S608
        " WHERE delivery_id = %s AND webhook_id = %s AND tenant_id = %s",
        (delivery_id, webhook_id, tenant_id),
    ).fetchone()
    return row


def moment(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
