"""Tenants and API keys as aggregates: issuing and revoking a key are events.

A key's secret never enters the domain; only its SHA-256 digest does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, get_args
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import ApiKeyAlreadyRevoked, InvalidValue
from domain.ids import TimeOrderedAggregate
from domain.tenancy import SYSTEM_TENANT, TenantOwned
from domain.values import check_chars, check_count

Scope = Literal["commands:write", "read", "live:read", "admin", "audit:read", "tokens:write"]
SCOPES: tuple[str, ...] = get_args(Scope)

TENANT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
TENANT_NAMESPACE = uuid5(NAMESPACE_URL, "https://chronicle.dev/tenants")
KEY_NAME_MAX_CHARS = 200
REVOKE_REASON_MAX_CHARS = 500
RETENTION_MAX_DAYS = 36_500


def check_tenant_name(name: str) -> None:
    """A tenant's name, or the operators' own (`SYSTEM_TENANT`)."""
    if name != SYSTEM_TENANT and not TENANT_NAME.fullmatch(name):
        raise InvalidValue(
            "tenant", "must be 1 to 63 of a-z, 0-9, '-' or '_', starting with a letter or digit"
        )


def check_scopes(scopes: list[str]) -> None:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise InvalidValue("scopes", f"unknown {', '.join(unknown)}; known: {', '.join(SCOPES)}")
    if not scopes:
        raise InvalidValue("scopes", "at least one scope is needed")


class Tenant(Aggregate):
    """An isolated customer of Chronicle; its id is derived from its unique name."""

    category = "audit"
    # Days a conversation's personal values are kept before they are erased; ``None``:
    # kept until erased by request. (A class default: tenants made before it lack it.)
    retention_days: int | None = None

    @staticmethod
    def create_id(name: str) -> UUID:
        return uuid5(TENANT_NAMESPACE, name)

    @event("TenantCreated")
    def __init__(self, name: str) -> None:
        self.name = name
        self.daily_tokens: int | None = None
        self.daily_cost_usd: float | None = None

    @property
    def budget(self) -> Budget:
        return Budget(self.daily_tokens, self.daily_cost_usd)

    @classmethod
    def create(cls, name: str) -> Tenant:
        check_tenant_name(name)
        return cls(name=name)

    def set_budget(self, daily_tokens: int | None, daily_cost_usd: float | None) -> None:
        """Bound the tenant's daily agent-run usage; ``None`` lifts a bound."""
        if daily_tokens is not None and daily_tokens < 0:
            raise InvalidValue("tokens", "must be zero or more")
        if daily_cost_usd is not None and not (0 <= daily_cost_usd < 1e12):
            raise InvalidValue("cost", "must be zero or more")
        self._budget_set(daily_tokens, daily_cost_usd)

    @event("BudgetSet")
    def _budget_set(self, daily_tokens: int | None, daily_cost_usd: float | None) -> None:
        self.daily_tokens, self.daily_cost_usd = daily_tokens, daily_cost_usd

    def set_retention(self, days: int | None) -> None:
        """Erase the tenant's conversations once they are ``days`` old; ``None``: never."""
        if days is not None:
            check_count("days", days, RETENTION_MAX_DAYS)
            if days < 1:
                raise InvalidValue("days", "must be at least 1")
        self._retention_set(days)

    @event("RetentionSet")
    def _retention_set(self, days: int | None) -> None:
        self.retention_days = days


@dataclass(frozen=True)
class Budget:
    """A tenant's daily bounds on agent-run tokens and cost; ``None`` is unbounded."""

    daily_tokens: int | None = None
    daily_cost_usd: float | None = None

    def or_else(self, default: Budget) -> Budget:
        """Each bound of this budget, or of ``default`` where this one sets none."""
        return Budget(
            self.daily_tokens if self.daily_tokens is not None else default.daily_tokens,
            self.daily_cost_usd if self.daily_cost_usd is not None else default.daily_cost_usd,
        )

    def used_ratio(self, tokens: int, cost_usd: float) -> float | None:
        """The share of the budget a day's usage took: the larger of its bounds' (1 or more
        once one is reached; a bound of 0 is reached at once); ``None`` when unbounded."""
        shares = [
            used / bound if bound else 1.0
            for used, bound in ((tokens, self.daily_tokens), (cost_usd, self.daily_cost_usd))
            if bound is not None
        ]
        return max(shares, default=None)

    def exceeded_by(self, tokens: int, cost_usd: float) -> bool:
        """Whether usage of a day has reached a bound (new runs are then refused)."""
        return (self.daily_tokens is not None and tokens >= self.daily_tokens) or (
            self.daily_cost_usd is not None and cost_usd >= self.daily_cost_usd
        )


class ApiKey(TimeOrderedAggregate, TenantOwned):
    """A credential of one tenant with a set of scopes, valid until revoked."""

    category = "audit"

    @event("ApiKeyIssued")
    def __init__(
        self,
        tenant_id: str,
        name: str,
        scopes: list[str],
        secret_sha256: str,
        rate_limit_per_minute: int | None = None,
        rotated_from: str | None = None,
    ) -> None:
        self.tenant_id = tenant_id
        self.name = name
        self.scopes = sorted(set(scopes))
        self.secret_sha256 = secret_sha256
        self.rate_limit_per_minute = rate_limit_per_minute
        self.rotated_from = rotated_from
        self.revoked = False

    @classmethod
    def issue(
        cls,
        tenant_id: str,
        name: str,
        scopes: list[str],
        secret_sha256: str,
        rate_limit_per_minute: int | None = None,
    ) -> ApiKey:
        check_tenant_name(tenant_id)
        check_scopes(scopes)
        check_chars("name", name, KEY_NAME_MAX_CHARS)
        if rate_limit_per_minute is not None and not 1 <= rate_limit_per_minute <= 1_000_000:
            raise InvalidValue("rate_limit", "must be 1 to 1000000 requests per minute")
        return cls(tenant_id, name, scopes, secret_sha256, rate_limit_per_minute)

    def successor(self, secret_sha256: str) -> ApiKey:
        """A new key with this one's tenant, name, scopes and limit (a rotation); this
        key stays valid until it is revoked."""
        if self.revoked:
            raise ApiKeyAlreadyRevoked(self.id)
        return type(self)(
            self.tenant_id,
            self.name,
            list(self.scopes),
            secret_sha256,
            self.rate_limit_per_minute,
            str(self.id),
        )

    @event("RateLimitExceeded")
    def rate_limited(self, window_start: str, refused: int) -> None:
        """Refusals of one minute, recorded once for the whole minute."""

    def revoke(self, reason: str = "") -> None:
        if self.revoked:
            raise ApiKeyAlreadyRevoked(self.id)
        check_chars("reason", reason, REVOKE_REASON_MAX_CHARS, minimum=0)
        self._revoked(reason)

    @event("ApiKeyRevoked")
    def _revoked(self, reason: str) -> None:
        self.revoked = True
