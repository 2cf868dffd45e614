"""Use cases of conversations: start, post a message, rename, archive.

Each handler loads, calls one domain method, and hands the change to the runner.
"""

from __future__ import annotations

from uuid import UUID

from application.commands import CommandRunner, check_expected_version
from application.context import CommandContext
from application.ports import Change, CommandResult, EventStore
from application.tenancy import load_owned
from domain.conversation import PLAIN_TEXT, Conversation
from domain.ids import new_id


class Conversations:
    """Command handlers of conversations; queries are answered by read models."""

    def __init__(self, store: EventStore, runner: CommandRunner) -> None:
        self._store = store
        self._runner = runner

    async def start(
        self, context: CommandContext, title: str, participants: list[str]
    ) -> CommandResult:
        def decide() -> Change:
            conversation = Conversation.start(context.tenant_id, title, participants)
            return Change((conversation,), conversation)

        return await self._runner.run(context, decide, decide_blocks=False)

    async def post_message(
        self,
        context: CommandContext,
        conversation_id: UUID,
        *,
        role: str,
        content: str,
        author: str | None = None,
        tokens: int | None = None,
        content_type: str = PLAIN_TEXT,
        expected_version: int | None = None,
    ) -> CommandResult:
        message_id = new_id()

        def decide() -> Change:
            conversation = self._load(context.tenant_id, conversation_id)
            check_expected_version(conversation, expected_version)
            conversation.post_message(message_id, role, content, author, tokens, content_type)
            return Change((conversation,), conversation, {"message_id": str(message_id)})

        return await self._runner.run(
            context, decide, expected_version=expected_version, retry_on_conflict=True
        )

    async def rename(
        self,
        context: CommandContext,
        conversation_id: UUID,
        title: str,
        expected_version: int | None = None,
    ) -> CommandResult:
        def decide() -> Change:
            conversation = self._load(context.tenant_id, conversation_id)
            check_expected_version(conversation, expected_version)
            conversation.rename(title)
            return Change((conversation,), conversation)

        return await self._runner.run(context, decide, expected_version=expected_version)

    async def join(
        self, context: CommandContext, conversation_id: UUID, user_id: str, role: str = "member"
    ) -> CommandResult:
        """Add a participant (``ParticipantJoined``)."""

        def decide() -> Change:
            conversation = self._load(context.tenant_id, conversation_id)
            conversation.join(user_id, role)
            return Change((conversation,), conversation)

        return await self._runner.run(context, decide, retry_on_conflict=True)

    async def leave(
        self, context: CommandContext, conversation_id: UUID, user_id: str
    ) -> CommandResult:
        """Remove a participant (``ParticipantLeft``)."""

        def decide() -> Change:
            conversation = self._load(context.tenant_id, conversation_id)
            conversation.leave(user_id)
            return Change((conversation,), conversation)

        return await self._runner.run(context, decide, retry_on_conflict=True)

    async def archive(
        self, context: CommandContext, conversation_id: UUID, expected_version: int | None = None
    ) -> CommandResult:
        def decide() -> Change:
            conversation = self._load(context.tenant_id, conversation_id)
            check_expected_version(conversation, expected_version)
            conversation.archive()
            return Change((conversation,), conversation)

        return await self._runner.run(context, decide, expected_version=expected_version)

    def _load(self, tenant_id: str, conversation_id: UUID) -> Conversation:
        return load_owned(self._store, conversation_id, Conversation, tenant_id)
