"""The Conversation aggregate: a titled thread of messages that can be archived.

Invariants are checked before an event is triggered; no I/O happens here.
"""

from __future__ import annotations

import re
from typing import Any, Literal, get_args
from uuid import UUID

from eventsourcing.domain import event

from domain.errors import (
    AlreadyParticipant,
    ConversationIsArchived,
    InvalidValue,
    NotParticipant,
)
from domain.ids import TimeOrderedAggregate
from domain.tenancy import TenantOwned
from domain.values import check_chars, check_count, check_text

Role = Literal["user", "assistant", "system", "tool"]
ROLES: frozenset[str] = frozenset(get_args(Role))

TITLE_MAX_CHARS = 200
NAME_MAX_CHARS = 200  # authors and participants
ROLE_MAX_CHARS = 40  # a participant's role
CONTENT_MAX_CHARS = 65_536
PARTICIPANTS_MAX = 100
PLAIN_TEXT = "text/plain"
# A media type without parameters, in lower case (RFC 6838's restricted names).
CONTENT_TYPE_PATTERN = r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,62}/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}$"
_CONTENT_TYPE = re.compile(CONTENT_TYPE_PATTERN)


def check_title(title: str) -> None:
    if not 1 <= len(title) <= TITLE_MAX_CHARS or not title.strip():
        raise InvalidValue("title", f"must be 1 to {TITLE_MAX_CHARS} characters, not blank")
    check_text("title", title)


def check_content(content: str) -> None:
    check_chars("content", content, CONTENT_MAX_CHARS)


def check_content_type(content_type: str) -> None:
    if not _CONTENT_TYPE.fullmatch(content_type):
        raise InvalidValue(
            "content_type", "must be a media type in lower case, such as text/markdown"
        )


def check_role(role: str) -> None:
    if role not in ROLES:
        raise InvalidValue("role", f"must be one of {', '.join(sorted(ROLES))}")


def check_participants(participants: list[str]) -> None:
    if len(participants) > PARTICIPANTS_MAX:
        raise InvalidValue("participants", f"at most {PARTICIPANTS_MAX}")
    for participant in participants:
        check_chars("participants", participant, NAME_MAX_CHARS)


def check_tokens(tokens: int | None) -> None:
    if tokens is not None:
        check_count("tokens", tokens)


class Conversation(TimeOrderedAggregate, TenantOwned):
    """A conversation between people, assistants and tools, owned by one tenant."""

    category = "conversation"

    @event("ConversationStarted")
    def __init__(self, tenant_id: str, title: str, participants: list[str]) -> None:
        self.tenant_id = tenant_id
        self.title = title
        self.participants = list(participants)
        self.message_count = 0
        self.archived = False

    @classmethod
    def start(cls, tenant_id: str, title: str, participants: list[str]) -> Conversation:
        check_title(title)
        check_participants(participants)
        return cls(tenant_id=tenant_id, title=title, participants=participants)

    def post_message(
        self,
        message_id: UUID,
        role: str,
        content: str,
        author: str | None,
        tokens: int | None,
        content_type: str = PLAIN_TEXT,
    ) -> None:
        self.check_open()
        check_role(role)
        check_content(content)
        check_content_type(content_type)
        check_tokens(tokens)
        if author is not None:
            check_chars("author", author, NAME_MAX_CHARS)
        self._message_posted(message_id, author or role, role, content, tokens, content_type)

    class MessagePosted(TimeOrderedAggregate.Event):
        """Version 2 added ``content_type``; messages posted before were plain text."""

        class_version = 2
        message_id: UUID
        author: str
        role: str
        content: str
        tokens: int | None
        content_type: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["content_type"] = PLAIN_TEXT

    @event(MessagePosted)
    def _message_posted(
        self,
        message_id: UUID,
        author: str,
        role: str,
        content: str,
        tokens: int | None,
        content_type: str,
    ) -> None:
        self.message_count += 1

    def rename(self, title: str) -> None:
        self.check_open()
        check_title(title)
        self._renamed(title)

    @event("ConversationRenamed")
    def _renamed(self, title: str) -> None:
        self.title = title

    def join(self, user_id: str, role: str = "member") -> None:
        """Add a participant (`AlreadyParticipant` if it is one already)."""
        self.check_open()
        check_chars("user_id", user_id, NAME_MAX_CHARS)
        check_chars("role", role, ROLE_MAX_CHARS)
        if user_id in self.participants:
            raise AlreadyParticipant(self.id, user_id)
        if len(self.participants) >= PARTICIPANTS_MAX:
            raise InvalidValue("participants", f"at most {PARTICIPANTS_MAX}")
        self._joined(user_id, role, [*self.participants, user_id])

    @event("ParticipantJoined")
    def _joined(self, user_id: str, role: str, participants: list[str]) -> None:
        self.participants = list(participants)

    def leave(self, user_id: str) -> None:
        """Remove a participant (`NotParticipant` if it is none)."""
        if user_id not in self.participants:
            raise NotParticipant(self.id, user_id)
        self._left(user_id, [p for p in self.participants if p != user_id])

    @event("ParticipantLeft")
    def _left(self, user_id: str, participants: list[str]) -> None:
        self.participants = list(participants)

    def archive(self) -> None:
        self.check_open()
        self._archived()

    @event("ConversationArchived")
    def _archived(self) -> None:
        self.archived = True

    def check_open(self) -> None:
        """Raise `ConversationIsArchived` unless the conversation takes new things."""
        if self.archived:
            raise ConversationIsArchived(self.id)
