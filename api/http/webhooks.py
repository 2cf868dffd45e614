"""HTTP resource for a tenant's webhooks (scope ``admin``): register, list, read, disable,
and inspect or retry deliveries. A secret Chronicle made is answered once, at registration.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID

import anyio
import anyio.to_thread
import msgspec
from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import Response

from api.bootstrap import Container
from api.http.auth import requires
from api.http.commands import Changed, answer
from api.http.reads import (
    MAX_WAIT_SECONDS,
    POLL_SECONDS,
    POSITION_HEADER,
    After,
    Limit,
    MinPosition,
    next_cursor_of,
    parse_cursor,
)
from application.context import CommandContext, Principal
from application.errors import NotFound
from application.webhooks import SECRET_PATTERN, Webhooks
from domain.webhook import MAX_PATTERNS, URL_MAX_CHARS, URL_PATTERN
from infrastructure.read_models import Conn
from infrastructure.webhooks import (
    dispatched_position,
    find_delivery,
    moment,
    tenant_webhooks,
    webhook_deliveries,
)

T = TypeVar("T")
ADMIN = [requires("admin")]
EventPattern = Annotated[
    str, msgspec.Meta(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.*-]+$")
]
DeliveryStatus = Literal["pending", "retrying", "delivered", "dead"]


class RegisterWebhook(msgspec.Struct, forbid_unknown_fields=True):
    url: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            max_length=URL_MAX_CHARS,
            pattern=URL_PATTERN,
            description="http(s), without credentials; a loopback or private address only"
            " where the deployment allows it (else 400)",
        ),
    ]
    events: Annotated[list[EventPattern], msgspec.Meta(min_length=1, max_length=MAX_PATTERNS)]
    secret: Annotated[str, msgspec.Meta(max_length=200, pattern=SECRET_PATTERN)] | None = None


class WebhookCreated(msgspec.Struct):
    id: UUID
    version: int
    position: int
    secret: str | None  # made by Chronicle: answered this once; null when you gave one


class WebhookOut(msgspec.Struct):
    id: UUID
    url: str
    events: list[str]
    active: bool
    disabled_reason: str | None
    version: int
    created_at: str


class WebhookPage(msgspec.Struct):
    items: list[WebhookOut]
    next: str | None


class DeliveryOut(msgspec.Struct):
    delivery_id: UUID
    position: int
    event_type: str
    status: str
    attempts: int
    last_error: str | None
    response_code: int | None
    next_attempt_at: str | None
    created_at: str
    updated_at: str


class DeliveryPage(msgspec.Struct):
    items: list[DeliveryOut]
    next: str | None


async def dispatched(
    container: Container, run: Callable[[Conn], T], min_position: int | None
) -> tuple[T, dict[str, str]]:
    """``run`` once the dispatcher has reached ``min_position`` (at most 5 s), and how far."""
    if min_position and min_position <= await anyio.to_thread.run_sync(container.events.head):
        deadline = time.monotonic() + MAX_WAIT_SECONDS
        while time.monotonic() < deadline:
            if await anyio.to_thread.run_sync(container.reads.read, dispatched_position) >= (
                min_position
            ):
                break
            await anyio.sleep(POLL_SECONDS)

    def both(conn: Conn) -> tuple[T, int]:
        return run(conn), dispatched_position(conn)

    result, position = await anyio.to_thread.run_sync(container.reads.read, both)
    return result, {POSITION_HEADER: str(position)}


def _webhook(row: dict[str, Any]) -> WebhookOut:
    return WebhookOut(
        row["webhook_id"],
        row["url"],
        list(row["events"]),
        row["active"],
        row["disabled_reason"],
        row["version"],
        str(moment(row["created_at"])),
    )


def _delivery(row: dict[str, Any]) -> DeliveryOut:
    return DeliveryOut(
        row["delivery_id"],
        row["position"],
        row["event_type"],
        row["status"],
        row["attempts"],
        row["last_error"],
        row["response_code"],
        moment(row["next_attempt_at"]) if row["status"] in ("pending", "retrying") else None,
        str(moment(row["created_at"])),
        str(moment(row["updated_at"])),
    )


class WebhooksController(Controller):
    path = "/v1/webhooks"
    tags = ["webhooks"]

    @post(
        "/",
        guards=ADMIN,
        status_code=201,
        operation_id="registerWebhook",
        opt={"command": "webhook.register"},
    )
    async def register(
        self,
        context: NamedDependency[CommandContext],
        webhooks: NamedDependency[Webhooks],
        data: JSONBody[RegisterWebhook],
    ) -> Response[WebhookCreated]:
        """Register a webhook for the event types or patterns (``Task*``, ``*``) it lists.
        Without a ``secret`` Chronicle makes one (``whsec_…``) and answers it this once."""
        registered = await webhooks.register(context, data.url, data.events, data.secret)
        result = registered.result
        body = WebhookCreated(result.id, result.version, result.position, registered.secret)
        return answer(body, result, status_code=201, location=f"/v1/webhooks/{result.id}")

    @get("/", guards=ADMIN, operation_id="listWebhooks")
    async def list_webhooks(
        self,
        request: Request[Principal, Any, Any],
        container: NamedDependency[Container],
        after: After = None,
        limit: Limit = 100,
        min_position: MinPosition = None,
    ) -> Response[WebhookPage]:
        """The tenant's webhooks, oldest first (as the dispatcher knows them)."""
        cursor = parse_cursor(after)
        rows, headers = await dispatched(
            container,
            lambda conn: tenant_webhooks(conn, request.user.tenant_id, cursor, limit),
            min_position,
        )
        page = rows[:limit]
        following = page[-1]["position"] if len(rows) > limit else None
        return Response(
            WebhookPage([_webhook(r) for r in page], next_cursor_of(following)), headers=headers
        )

    @get("/{webhook_id:uuid}", guards=ADMIN, operation_id="getWebhook")
    async def get_webhook(
        self,
        request: Request[Principal, Any, Any],
        webhook_id: FromPath[UUID],
        webhooks: NamedDependency[Webhooks],
    ) -> Response[WebhookOut]:
        """One of the tenant's webhooks (never its secret), from its own events."""
        found = await anyio.to_thread.run_sync(webhooks.find, request.user.tenant_id, webhook_id)
        body = WebhookOut(
            found.id,
            found.url,
            list(found.events),
            not found.disabled,
            found.disabled_reason,
            found.version,
            found.created_on.isoformat(),
        )
        return Response(body, headers={"ETag": f'"{found.version}"'})

    @delete(
        "/{webhook_id:uuid}",
        guards=ADMIN,
        status_code=200,
        operation_id="deleteWebhook",
        opt={"command": "webhook.delete"},
    )
    async def delete_webhook(
        self,
        webhook_id: FromPath[UUID],
        context: NamedDependency[CommandContext],
        webhooks: NamedDependency[Webhooks],
    ) -> Response[Changed]:
        """Delete a webhook (``WebhookDeleted``): nothing more is delivered to it, its
        deliveries and secret are dropped, and it is `404` from now on."""
        result = await webhooks.delete(context, webhook_id)
        return answer(Changed.of(result), result)

    @post(
        "/{webhook_id:uuid}/disable",
        guards=ADMIN,
        status_code=200,
        operation_id="disableWebhook",
        opt={"command": "webhook.disable"},
    )
    async def disable(
        self,
        webhook_id: FromPath[UUID],
        context: NamedDependency[CommandContext],
        webhooks: NamedDependency[Webhooks],
    ) -> Response[Changed]:
        """Disable a webhook (``WebhookDisabled``): events are not delivered to it until it
        is enabled; `409` if it is disabled already."""
        result = await webhooks.disable(context, webhook_id, "disabled by its tenant")
        return answer(Changed.of(result), result)

    @post(
        "/{webhook_id:uuid}/enable",
        guards=ADMIN,
        status_code=200,
        operation_id="enableWebhook",
        opt={"command": "webhook.enable"},
    )
    async def enable(
        self,
        webhook_id: FromPath[UUID],
        context: NamedDependency[CommandContext],
        webhooks: NamedDependency[Webhooks],
    ) -> Response[Changed]:
        """Enable a disabled webhook (``WebhookEnabled``), one its tenant disabled or one
        disabled after repeated failure: the deliveries it had waiting go first; `409` if
        it is enabled."""
        result = await webhooks.enable(context, webhook_id)
        return answer(Changed.of(result), result)

    @get("/{webhook_id:uuid}/deliveries", guards=ADMIN, operation_id="listWebhookDeliveries")
    async def deliveries(
        self,
        request: Request[Principal, Any, Any],
        webhook_id: FromPath[UUID],
        container: NamedDependency[Container],
        webhooks: NamedDependency[Webhooks],
        status: Annotated[
            DeliveryStatus | None, QueryParameter(description="Only deliveries in this state")
        ] = None,
        after: After = None,
        limit: Limit = 100,
        min_position: MinPosition = None,
    ) -> Response[DeliveryPage]:
        """A webhook's deliveries in log order: status, attempts, last error, response code."""
        await anyio.to_thread.run_sync(webhooks.find, request.user.tenant_id, webhook_id)
        cursor = parse_cursor(after)
        rows, headers = await dispatched(
            container,
            lambda conn: webhook_deliveries(conn, webhook_id, status, cursor, limit),
            min_position,
        )
        page = rows[:limit]
        following = page[-1]["position"] if len(rows) > limit else None
        items = [_delivery(r) for r in page]
        return Response(DeliveryPage(items, next_cursor_of(following)), headers=headers)

    @post(
        "/{webhook_id:uuid}/deliveries/{delivery_id:uuid}/retry",
        guards=ADMIN,
        status_code=202,
        operation_id="retryWebhookDelivery",
        opt={"command": "webhook.retry_delivery"},
    )
    async def retry(
        self,
        request: Request[Principal, Any, Any],
        webhook_id: FromPath[UUID],
        delivery_id: FromPath[UUID],
        context: NamedDependency[CommandContext],
        container: NamedDependency[Container],
        webhooks: NamedDependency[Webhooks],
    ) -> Response[Changed]:
        """Deliver one delivery again (``WebhookDeliveryRetried``), from its first attempt;
        accepted: the dispatcher puts it back in line at the answer's ``position``."""
        tenant = request.user.tenant_id
        found = await anyio.to_thread.run_sync(
            container.reads.read, lambda conn: find_delivery(conn, tenant, webhook_id, delivery_id)
        )
        if found is None:
            raise NotFound(f"delivery {delivery_id} of webhook {webhook_id} not found")
        result = await webhooks.retry_delivery(context, webhook_id, delivery_id)
        return answer(Changed.of(result), result, status_code=202)
