"""Daily budgets of agent runs: a tenant whose completed runs have used its budget starts
no new run until the next UTC day, and none while its usage cannot be counted.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol

from application.errors import BudgetExceeded, NotFound, UsageUnavailable
from application.ports import EventStore
from domain.identity import Budget, Tenant

# Parked usage events wait for an operator: no use asking again within seconds.
USAGE_UNAVAILABLE_RETRY_AFTER_S = 60


@dataclass(frozen=True)
class DailyUsage:
    """A tenant's completed-run usage on one UTC day, and how many of its usage events
    the read model set aside (so did not count)."""

    tokens: int
    cost_usd: float
    parked_events: int


class UsageLedger(Protocol):
    """Where a tenant's daily usage is counted (the usage read model)."""

    def usage_on(self, tenant_id: str, day: date) -> DailyUsage: ...


def seconds_until_tomorrow(now: datetime) -> int:
    tomorrow = datetime.combine(now.date() + timedelta(days=1), time(), UTC)
    return max(1, int((tomorrow - now).total_seconds()))


class Budgets:
    """Each tenant's budget (its own bounds, else the server's) and the check before a run."""

    def __init__(self, store: EventStore, ledger: UsageLedger, default: Budget) -> None:
        self._store = store
        self._ledger = ledger
        self._default = default

    def of(self, tenant_id: str) -> Budget:
        try:
            own = self._store.get(Tenant.create_id(tenant_id), Tenant).budget
        except NotFound:
            own = Budget()
        return own.or_else(self._default)

    async def ensure_within(self, tenant_id: str, now: datetime) -> None:
        """Raise `BudgetExceeded` when today's usage has reached the tenant's budget, and
        `UsageUnavailable` when a budget applies but some of the usage cannot be counted."""
        budget = await asyncio.to_thread(self.of, tenant_id)
        if budget == Budget():
            return  # unbounded: nothing to count
        usage = await asyncio.to_thread(self._ledger.usage_on, tenant_id, now.date())
        if usage.parked_events:  # the count would be low
            raise UsageUnavailable(
                f"{usage.parked_events} of the tenant's usage events cannot be counted, so its"
                " budget cannot be checked; new runs are accepted again once an operator has"
                " retried them",
                USAGE_UNAVAILABLE_RETRY_AFTER_S,
            )
        if budget.exceeded_by(usage.tokens, usage.cost_usd):
            raise BudgetExceeded(
                f"today's usage ({usage.tokens} tokens, ${usage.cost_usd:.4f}) has reached"
                " the tenant's daily budget; new runs are accepted again at 00:00 UTC",
                seconds_until_tomorrow(now),
            )
