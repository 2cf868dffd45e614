"""A tenant's end users as Chronicle knows them: named by the platform, never logged in
here, holding the short-lived tokens the platform's backend mints for them, and
receiving personal notifications in an inbox of their own.

Tokens themselves are not kept: the log records that one was issued (what it allows, until
when) and when a user's tokens were revoked, which is what verification needs.
"""

from __future__ import annotations

import re
from typing import Any, Literal, get_args
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidValue, NotificationNotUnread
from domain.ids import TimeOrderedAggregate
from domain.tenancy import TenantOwned
from domain.values import check_chars, check_json

USER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@:+-]{0,127}$")
USER_NAMESPACE = uuid5(NAMESPACE_URL, "https://chronicle.dev/users")
UserScope = Literal["live:read", "messages:write", "presence:write", "documents:write"]
USER_SCOPES: tuple[str, ...] = get_args(UserScope)
TOKEN_MAX_SECONDS = 24 * 3600
TOKEN_MAX_RESOURCES = 100
TOKEN_NAME_MAX_CHARS = 200
TOKEN_KEYS_NAMESPACE = uuid5(NAMESPACE_URL, "https://chronicle.dev/token-keys")
RetirePrevious = Literal["at_expiry", "now"]
RETIRE_PREVIOUS: tuple[str, ...] = get_args(RetirePrevious)


def check_user_id(user_id: str) -> None:
    if not USER_ID.fullmatch(user_id):
        raise InvalidValue(
            "user_id",
            "must be 1 to 128 of letters, digits, '.', '_', '@', ':', '+' or '-', starting"
            " with a letter or digit",
        )


def check_token_grant(scopes: list[str], resources: int, seconds: int) -> None:
    """What a user token may hold: user scopes only (never ``tokens:write``), a bounded
    list of resources, and at most a day."""
    if not scopes:
        raise InvalidValue("scopes", "at least one scope is needed")
    unknown = sorted(set(scopes) - set(USER_SCOPES))
    if unknown:
        raise InvalidValue(
            "scopes",
            f"{', '.join(unknown)} cannot be granted to a user token;"
            f" user scopes: {', '.join(USER_SCOPES)}",
        )
    if resources > TOKEN_MAX_RESOURCES:
        raise InvalidValue("conversations", f"at most {TOKEN_MAX_RESOURCES} resources a token")
    if isinstance(seconds, bool) or not 1 <= seconds <= TOKEN_MAX_SECONDS:
        raise InvalidValue("ttl_s", f"must be 1 to {TOKEN_MAX_SECONDS} seconds")


class EndUser(Aggregate, TenantOwned):
    """One user of a tenant's platform; its id derives from the tenant and the user id."""

    category = "audit"

    @staticmethod
    def create_id(tenant_id: str, user_id: str) -> UUID:
        return uuid5(USER_NAMESPACE, f"{tenant_id}/{user_id}")

    @event("EndUserAdded")
    def __init__(self, tenant_id: str, user_id: str) -> None:
        self.tenant_id = tenant_id
        self.user_id = user_id
        self.tokens_revoked_before = 0  # unix ms: the tokens issued earlier are refused

    @classmethod
    def add(cls, tenant_id: str, user_id: str) -> EndUser:
        check_user_id(user_id)
        return cls(tenant_id, user_id)

    def issue_token(
        self,
        token_id: str,
        name: str,
        scopes: list[str],
        conversations: list[str],
        documents: list[str],
        issued_at: int,
        ttl_s: int,
        key_version: int = 1,
    ) -> None:
        """Record a token minted for this user at ``issued_at`` (unix ms) for ``ttl_s``
        seconds, to be signed with the tenant's key of ``key_version`` (the token is
        signed outside the domain)."""
        check_chars("name", name, TOKEN_NAME_MAX_CHARS, minimum=0)
        check_token_grant(scopes, len(conversations) + len(documents), ttl_s)
        self._token_issued(
            token_id,
            name,
            sorted(set(scopes)),
            sorted(set(conversations)),
            sorted(set(documents)),
            issued_at,
            issued_at + ttl_s * 1000,
            key_version,
        )

    @event("UserTokenIssued")
    def _token_issued(
        self,
        token_id: str,
        name: str,
        scopes: list[str],
        conversations: list[str],
        documents: list[str],
        issued_at: int,
        expires_at: int,
        key_version: int = 1,  # tokens issued before keys were rotatable: the first key
    ) -> None:
        pass

    def revoke_tokens(self, before: int) -> None:
        """Refuse every token of this user issued before ``before`` (unix ms)."""
        self._tokens_revoked(self.user_id, max(before, self.tokens_revoked_before))

    @event("UserTokensRevoked")
    def _tokens_revoked(self, user_id: str, before: int) -> None:
        self.tokens_revoked_before = before


class TokenKeys(Aggregate, TenantOwned):
    """The versions of a tenant's key for signing user tokens: the first until a rotation,
    then each rotation's. A rotation says until when the keys before it still verify the
    tokens they signed: until those tokens have expired, or from now on (a key thought
    leaked). The keys themselves are kept out of the log."""

    category = "audit"

    @staticmethod
    def create_id(tenant_id: str) -> UUID:
        return uuid5(TOKEN_KEYS_NAMESPACE, tenant_id)

    @event("TokenKeysOpened")
    def __init__(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id
        self.key_version = 1

    @classmethod
    def open(cls, tenant_id: str) -> TokenKeys:
        return cls(tenant_id)

    def rotate(self, now: int, retire_previous: str) -> None:
        """Sign with a new key from ``now`` (unix ms); the earlier keys verify until every
        token they could have signed has expired (``at_expiry``), or no longer (``now``)."""
        if retire_previous not in RETIRE_PREVIOUS:
            raise InvalidValue("retire_previous", f"must be one of {', '.join(RETIRE_PREVIOUS)}")
        until = now if retire_previous == "now" else now + TOKEN_MAX_SECONDS * 1000
        self._rotated(self.key_version + 1, now, until)

    @event("TokenKeyRotated")
    def _rotated(self, version: int, rotated_at: int, previous_until: int) -> None:
        self.key_version = version


NOTIFICATION_KIND = re.compile(r"^[a-z][a-z0-9._-]{0,63}$")
Priority = Literal["low", "normal", "high", "urgent"]
PRIORITIES: tuple[str, ...] = get_args(Priority)
NOTIFICATION_TITLE_MAX_CHARS = 200
NOTIFICATION_BODY_MAX_CHARS = 10_000
INBOX_NAMESPACE = uuid5(NAMESPACE_URL, "https://chronicle.dev/inboxes")


def check_notice(title: str, body: str, priority: str) -> None:
    """What a notification or an announcement says, and how urgently."""
    check_chars("title", title, NOTIFICATION_TITLE_MAX_CHARS)
    check_chars("body", body, NOTIFICATION_BODY_MAX_CHARS, minimum=0)
    if priority not in PRIORITIES:
        raise InvalidValue("priority", f"must be one of {', '.join(PRIORITIES)}")


class Inbox(Aggregate, TenantOwned):
    """One user's personal notifications: sent to the user, followed live on the user's
    channel by the user's tokens, marked read by the user."""

    category = "user"

    @staticmethod
    def create_id(tenant_id: str, user_id: str) -> UUID:
        return uuid5(INBOX_NAMESPACE, f"{tenant_id}/{user_id}")

    @event("InboxOpened")
    def __init__(self, tenant_id: str, user_id: str) -> None:
        self.tenant_id = tenant_id
        self.user_id = user_id
        self.unread: list[str] = []  # notification ids, oldest first
        self.sent = 0

    @classmethod
    def open(cls, tenant_id: str, user_id: str) -> Inbox:
        check_user_id(user_id)
        return cls(tenant_id, user_id)

    def send(
        self,
        notification_id: str,
        kind: str,
        title: str,
        body: str,
        data: dict[str, Any],
        priority: str,
    ) -> None:
        if not NOTIFICATION_KIND.fullmatch(kind):
            raise InvalidValue("kind", "must be 1 to 64 of a-z, 0-9, '.', '_' or '-'")
        check_notice(title, body, priority)
        check_json("data", data)
        self._sent(notification_id, kind, title, body, data, priority)

    @event("NotificationSent")
    def _sent(
        self,
        notification_id: str,
        kind: str,
        title: str,
        body: str,
        data: dict[str, Any],
        priority: str,
    ) -> None:
        self.unread.append(notification_id)
        self.sent += 1

    def has_unread(self, notification_id: str) -> bool:
        return notification_id in self.unread

    def mark_read(self, notification_id: str) -> None:
        """Mark an unread notification read (`NotificationNotUnread` otherwise)."""
        if notification_id not in self.unread:
            raise NotificationNotUnread(notification_id)
        self._read(notification_id)

    @event("NotificationRead")
    def _read(self, notification_id: str) -> None:
        self.unread.remove(notification_id)


class Announcement(TimeOrderedAggregate, TenantOwned):
    """A message to every live client of a tenant, its users' tokens included."""

    category = "announcement"

    @event("AnnouncementMade")
    def __init__(self, tenant_id: str, title: str, body: str, priority: str) -> None:
        self.tenant_id = tenant_id
        self.title = title

    @classmethod
    def make(cls, tenant_id: str, title: str, body: str, priority: str) -> Announcement:
        check_notice(title, body, priority)
        return cls(tenant_id, title, body, priority)
