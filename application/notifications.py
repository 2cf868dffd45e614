"""Personal notifications, sent to one user of a tenant and marked read by that user;
announcements, to every live client of a tenant."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from application.commands import CommandRunner
from application.context import CommandContext
from application.errors import NotFound
from application.ports import Change, CommandResult, EventStore
from domain.ids import new_id
from domain.people import Announcement, Inbox, check_user_id


@dataclass(frozen=True)
class Notice:
    """A notification to send."""

    kind: str
    title: str
    body: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    priority: str = "normal"


class Notifications:
    """Use cases of users' inboxes."""

    def __init__(self, store: EventStore, runner: CommandRunner) -> None:
        self._store = store
        self._runner = runner

    async def send(
        self, context: CommandContext, user_id: str, notice: Notice
    ) -> tuple[CommandResult, UUID]:
        """Send a notification to a user (opening the user's inbox the first time)."""
        check_user_id(user_id)
        notification_id = new_id()

        def decide() -> Change:
            inbox_id = Inbox.create_id(context.tenant_id, user_id)
            try:
                inbox = self._store.get(inbox_id, Inbox)
            except NotFound:
                inbox = Inbox.open(context.tenant_id, user_id)
            inbox.send(
                str(notification_id),
                notice.kind,
                notice.title,
                notice.body,
                notice.data,
                notice.priority,
            )
            return Change((inbox,), inbox, {"notification_id": str(notification_id)})

        result = await self._runner.run(context, decide, retry_on_conflict=True)
        return result, UUID(result.fields.get("notification_id", str(notification_id)))

    async def mark_read(
        self, context: CommandContext, user_id: str, notification_id: UUID
    ) -> CommandResult:
        """Mark one of the user's unread notifications read."""
        check_user_id(user_id)

        def decide() -> Change:
            try:
                inbox = self._store.get(Inbox.create_id(context.tenant_id, user_id), Inbox)
            except NotFound:
                raise NotFound(f"notification {notification_id} not found") from None
            inbox.mark_read(str(notification_id))
            return Change((inbox,), inbox)

        return await self._runner.run(context, decide, retry_on_conflict=True)

    async def announce(
        self, context: CommandContext, title: str, body: str = "", priority: str = "normal"
    ) -> CommandResult:
        """Make an announcement to every live client of the tenant (kept in the log, not
        in anyone's list)."""

        def decide() -> Change:
            made = Announcement.make(context.tenant_id, title, body, priority)
            return Change((made,), made)

        return await self._runner.run(context, decide)
