"""Webhooks as aggregates: a tenant's endpoint that receives the events it subscribes to.

The signing secret never enters the domain (it is kept beside the log); nor does a delivery.
"""

from __future__ import annotations

import ipaddress
import re
from fnmatch import fnmatchcase
from urllib.parse import urlsplit

from eventsourcing.domain import event

from domain.errors import InvalidValue, RuleViolation
from domain.ids import TimeOrderedAggregate
from domain.tenancy import TenantOwned
from domain.values import check_chars

URL_MAX_CHARS = 2000
_PORT = r"(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})"
# What the API's schema says of a URL; the checks below say why (and name private hosts).
URL_PATTERN = rf"^https?://[A-Za-z0-9.-]+(?::{_PORT})?(?:[/?#][!-~]*)?$"
PATTERN = re.compile(r"^[A-Za-z0-9_.*-]{1,100}$")
MAX_PATTERNS = 50
REASON_MAX_CHARS = 500


class WebhookAlreadyDisabled(RuleViolation):
    def __init__(self, webhook_id: object) -> None:
        super().__init__(f"webhook {webhook_id} is already disabled")


class WebhookAlreadyEnabled(RuleViolation):
    def __init__(self, webhook_id: object) -> None:
        super().__init__(f"webhook {webhook_id} is already enabled")


def is_private_host(host: str) -> bool:
    """Whether ``host`` names this machine or a private network by itself: ``localhost``
    or an address that is not global (names are resolved when delivering)."""
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    return not address.is_global


def check_url(url: str, *, allow_private: bool) -> None:
    """An absolute http(s) URL without credentials (and, unless allowed, not private)."""
    check_chars("url", url, URL_MAX_CHARS)
    if any(c.isspace() or not c.isprintable() for c in url):
        raise InvalidValue("url", "must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        host, _port = parts.hostname, parts.port
    except ValueError as error:
        raise InvalidValue("url", f"is not a valid URL ({error})") from None
    if parts.scheme not in ("http", "https"):
        raise InvalidValue("url", "must be an http or https URL")
    if not host:
        raise InvalidValue("url", "must name a host")
    if parts.username is not None or parts.password is not None:
        raise InvalidValue("url", "must not carry credentials")
    if not allow_private and is_private_host(host):
        raise InvalidValue("url", "must not name a loopback or private address")


def check_patterns(patterns: list[str]) -> None:
    """1 to 50 event types or patterns (``*`` matches any run of characters)."""
    if not 1 <= len(patterns) <= MAX_PATTERNS:
        raise InvalidValue("events", f"must list 1 to {MAX_PATTERNS} event types or patterns")
    for pattern in patterns:
        if not PATTERN.fullmatch(pattern):
            raise InvalidValue(
                "events", f"{pattern[:100]!r} is not an event type or pattern (A-Z, 0-9, _.-*)"
            )


def subscribes_to(patterns: list[str], names: tuple[str, ...]) -> bool:
    """Whether any pattern matches any of an event's names (its type, its wire type)."""
    return any(fnmatchcase(name, pattern) for pattern in patterns for name in names)


class Webhook(TimeOrderedAggregate, TenantOwned):
    """A tenant's endpoint for the events its patterns match while it is enabled, until it
    is deleted (after which it is gone for its tenant: the application answers not found)."""

    category = "audit"

    @event("WebhookRegistered")
    def __init__(self, tenant_id: str, url: str, events: list[str]) -> None:
        self.tenant_id = tenant_id
        self.url = url
        self.events = list(events)
        self.disabled = False
        self.disabled_reason: str | None = None
        self.deleted = False

    @classmethod
    def register(
        cls, tenant_id: str, url: str, events: list[str], *, allow_private: bool = False
    ) -> Webhook:
        check_url(url, allow_private=allow_private)
        check_patterns(events)
        return cls(tenant_id, url, sorted(set(events)))

    def disable(self, reason: str) -> None:
        """Stop deliveries until it is enabled again (by its tenant, or after repeated
        failure); events of the time between are not delivered to it."""
        if self.disabled:
            raise WebhookAlreadyDisabled(self.id)
        check_chars("reason", reason, REASON_MAX_CHARS, minimum=0)
        self._disabled(reason)

    @event("WebhookDisabled")
    def _disabled(self, reason: str) -> None:
        self.disabled = True
        self.disabled_reason = reason

    def enable(self) -> None:
        """Deliver again: the deliveries it had waiting first, then new events (its count
        of failures starts over)."""
        if not self.disabled:
            raise WebhookAlreadyEnabled(self.id)
        self._enabled()

    @event("WebhookEnabled")
    def _enabled(self) -> None:
        self.disabled = False
        self.disabled_reason = None

    def delete(self) -> None:
        """Gone for good: nothing more is delivered, its deliveries and secret are dropped."""
        self._deleted()

    @event("WebhookDeleted")
    def _deleted(self) -> None:
        self.deleted = True
        self.disabled = True

    def retry_delivery(self, delivery_id: str) -> None:
        """Deliver one of its deliveries again (a dead one, or a replay)."""
        if self.disabled:
            raise WebhookAlreadyDisabled(self.id)
        self._delivery_retried(delivery_id)

    @event("WebhookDeliveryRetried")
    def _delivery_retried(self, delivery_id: str) -> None:
        """Recorded; the dispatcher puts the delivery back in line."""
