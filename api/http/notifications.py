"""HTTP resources for personal notifications: a platform sends one to a user (API key);
the user, or the platform, lists them with the unread count and marks them read. A user
token reaches its own user's as ``/v1/me/notifications``. Announcements go to every live
client of the tenant."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import Response

from api.http.auth import requires
from api.http.commands import Changed, Created, answer
from api.http.fields import NO_NUL, JsonValue, UserIdPath, checked_json
from api.http.reads import After, Limit, MinPosition, ReadModels, next_cursor_of, parse_cursor
from application.context import CommandContext, Principal
from application.errors import NotFound
from application.notifications import Notice, Notifications
from domain.people import (
    NOTIFICATION_BODY_MAX_CHARS,
    NOTIFICATION_KIND,
    NOTIFICATION_TITLE_MAX_CHARS,
    Priority,
)
from projections.notifications import NotificationRow, user_notification, user_notifications

READS = ("notifications",)
SEND = [requires("commands:write")]
LIST = [requires("read")]
MINE = [requires("read", user="live:read")]
DATA_MAX_KEYS = 64
Unread = Annotated[
    bool, QueryParameter(description="Only the unread notifications (the count is always all)")
]


class SendNotification(msgspec.Struct, forbid_unknown_fields=True):
    kind: Annotated[str, msgspec.Meta(max_length=64, pattern=NOTIFICATION_KIND.pattern)]
    title: Annotated[
        str, msgspec.Meta(min_length=1, max_length=NOTIFICATION_TITLE_MAX_CHARS, pattern=NO_NUL)
    ]
    body: Annotated[str, msgspec.Meta(max_length=NOTIFICATION_BODY_MAX_CHARS, pattern=NO_NUL)] = ""
    data: Annotated[
        dict[Annotated[str, msgspec.Meta(pattern=NO_NUL)], JsonValue],
        msgspec.Meta(max_length=DATA_MAX_KEYS),
    ] = {}
    priority: Priority = "normal"

    def __post_init__(self) -> None:
        checked_json("data", self.data)


class Announce(msgspec.Struct, forbid_unknown_fields=True):
    title: Annotated[
        str, msgspec.Meta(min_length=1, max_length=NOTIFICATION_TITLE_MAX_CHARS, pattern=NO_NUL)
    ]
    body: Annotated[str, msgspec.Meta(max_length=NOTIFICATION_BODY_MAX_CHARS, pattern=NO_NUL)] = ""
    priority: Priority = "normal"


class NotificationPage(msgspec.Struct):
    items: list[NotificationRow]
    unread: int
    next: str | None


def own_user(principal: Principal) -> str | None:
    """The user of a user token; a key has none (nothing is its own)."""
    return principal.user_id


class NotificationsController(Controller):
    tags = ["notifications"]

    @post(
        "/v1/users/{user_id:str}/notifications",
        guards=SEND,
        status_code=201,
        operation_id="sendNotification",
        opt={"command": "notification.send"},
    )
    async def send(
        self,
        user_id: UserIdPath,
        data: JSONBody[SendNotification],
        context: NamedDependency[CommandContext],
        notifications: NamedDependency[Notifications],
    ) -> Response[Created]:
        """Send a notification to one user: delivered live to the user's tokens, kept in
        the user's list until read."""
        notice = Notice(data.kind, data.title, data.body, data.data, data.priority)
        result, notification_id = await notifications.send(context, user_id, notice)
        body = Created(notification_id, result.version, result.position)
        location = f"/v1/users/{user_id}/notifications/{notification_id}"
        return answer(body, result, status_code=201, location=location)

    @post(
        "/v1/announcements",
        guards=SEND,
        status_code=201,
        operation_id="announce",
        opt={"command": "announcement.make"},
    )
    async def announce(
        self,
        data: JSONBody[Announce],
        context: NamedDependency[CommandContext],
        notifications: NamedDependency[Notifications],
    ) -> Response[Created]:
        """An announcement to every live client of the tenant, users' tokens included
        (``AnnouncementMade``, category ``announcement``)."""
        result = await notifications.announce(context, data.title, data.body, data.priority)
        location = f"/v1/streams/{result.id}/events"
        return answer(Created.of(result), result, status_code=201, location=location)

    @get("/v1/users/{user_id:str}/notifications", guards=LIST, operation_id="listNotifications")
    async def list_for(
        self,
        request: Request[Principal, Any, Any],
        user_id: UserIdPath,
        read_models: NamedDependency[ReadModels],
        unread: Unread = False,
        after: After = None,
        limit: Limit = 50,
        min_position: MinPosition = None,
    ) -> Response[NotificationPage]:
        """A user's notifications, newest first, and how many are unread."""
        return await _page(
            read_models, request.user.tenant_id, user_id, unread, after, limit, min_position
        )

    @get(
        "/v1/users/{user_id:str}/notifications/{notification_id:uuid}",
        guards=LIST,
        operation_id="getNotification",
    )
    async def get_one(
        self,
        request: Request[Principal, Any, Any],
        user_id: UserIdPath,
        notification_id: FromPath[UUID],
        read_models: NamedDependency[ReadModels],
        min_position: MinPosition = None,
    ) -> Response[NotificationRow]:
        """One of a user's notifications (where a sent one's Location points)."""
        tenant = request.user.tenant_id
        row, headers = await read_models.query(
            READS, lambda conn: user_notification(conn, tenant, user_id, notification_id),
            min_position,
        )  # fmt: skip
        if row is None:
            raise NotFound(f"notification {notification_id} not found")
        return Response(row, headers=headers)

    @get("/v1/me/notifications", guards=MINE, operation_id="listMyNotifications")
    async def list_mine(
        self,
        request: Request[Principal, Any, Any],
        read_models: NamedDependency[ReadModels],
        unread: Unread = False,
        after: After = None,
        limit: Limit = 50,
        min_position: MinPosition = None,
    ) -> Response[NotificationPage]:
        """The token's user's notifications, newest first, and how many are unread (for a
        key, which has no user of its own, none)."""
        user = own_user(request.user)
        if user is None:
            return Response(NotificationPage([], 0, None))
        return await _page(
            read_models, request.user.tenant_id, user, unread, after, limit, min_position
        )

    @post(
        "/v1/users/{user_id:str}/notifications/{notification_id:uuid}/read",
        guards=SEND,
        status_code=200,
        operation_id="markNotificationRead",
        opt={"command": "notification.read"},
    )
    async def mark_read(
        self,
        user_id: UserIdPath,
        notification_id: FromPath[UUID],
        context: NamedDependency[CommandContext],
        notifications: NamedDependency[Notifications],
    ) -> Response[Changed]:
        """Mark one of a user's unread notifications read (`409` if it is not one)."""
        result = await notifications.mark_read(context, user_id, notification_id)
        return answer(Changed.of(result), result)

    @post(
        "/v1/me/notifications/{notification_id:uuid}/read",
        guards=MINE,
        status_code=200,
        operation_id="markMyNotificationRead",
        opt={"command": "notification.read"},
    )
    async def mark_mine_read(
        self,
        request: Request[Principal, Any, Any],
        notification_id: FromPath[UUID],
        context: NamedDependency[CommandContext],
        notifications: NamedDependency[Notifications],
    ) -> Response[Changed]:
        """Mark one of the token's user's unread notifications read."""
        user = own_user(request.user)
        if user is None:
            raise NotFound(f"notification {notification_id} not found")
        result = await notifications.mark_read(context, user, notification_id)
        return answer(Changed.of(result), result)


async def _page(
    read_models: ReadModels,
    tenant: str,
    user_id: str,
    unread: bool,
    after: str | None,
    limit: int,
    min_position: int | None,
) -> Response[NotificationPage]:
    cursor = parse_cursor(after)
    (rows, count, next_cursor), headers = await read_models.query(
        READS,
        lambda conn: user_notifications(conn, tenant, user_id, unread, cursor, limit),
        min_position,
    )
    return Response(NotificationPage(rows, count, next_cursor_of(next_cursor)), headers=headers)
