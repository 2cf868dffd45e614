"""Usage and budgets: today's agent-run tokens and cost, and the refusal of new runs
once a tenant has used its daily budget, or while its usage cannot be counted."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import anyio.to_thread
from litestar import Controller, Request, get
from litestar.response import Response

from api.bootstrap import Container
from api.http.auth import requires
from api.http.reads import READ_MODEL, MinPosition, read_model
from application.context import Principal
from application.errors import BudgetExceeded, UsageUnavailable
from domain.identity import Budget
from infrastructure.parking import parked_count
from infrastructure.read_models import Conn
from projections.usage import usage_of_day

# Parked usage events wait for an operator: no use asking again within seconds.
USAGE_UNAVAILABLE_RETRY_AFTER_S = 60


def seconds_until_tomorrow(now: datetime) -> int:
    tomorrow = datetime.combine(now.date() + timedelta(days=1), time(), UTC)
    return max(1, int((tomorrow - now).total_seconds()))


async def usage_and_budget(
    request: Request[Principal, Any, Any], day: date, min_position: int | None = None
) -> tuple[dict[str, Any], Budget, dict[str, str]]:
    """The tenant's usage on ``day`` (with ``parked_events``: its usage events the read
    model set aside, so not counted), its budget (the server default where it sets none),
    and the read model's position header."""
    container: Container = request.app.state.container
    tenant = request.user.tenant_id

    def counted(conn: Conn) -> dict[str, Any]:
        return usage_of_day(conn, tenant, day) | {
            "parked_events": parked_count(conn, "usage", tenant)
        }

    usage, headers = await read_model(request, ("usage",), counted, min_position)
    own = await anyio.to_thread.run_sync(container.identity.budget_of, tenant)
    settings = container.settings
    budget = own.or_else(Budget(settings.daily_token_budget, settings.daily_cost_budget_usd))
    return usage, budget, headers


async def ensure_within_budget(request: Request[Principal, Any, Any]) -> None:
    """Raise `BudgetExceeded` when today's usage has reached the tenant's budget, and
    `UsageUnavailable` when a budget applies but some of the usage cannot be counted."""
    now = datetime.now(UTC)
    usage, budget, _ = await usage_and_budget(request, now.date())
    if budget != Budget() and usage["parked_events"]:  # bounded, and the count would be low
        raise UsageUnavailable(
            f"{usage['parked_events']} of the tenant's usage events cannot be counted, so its"
            " budget cannot be checked; new runs are accepted again once an operator has"
            " retried them",
            USAGE_UNAVAILABLE_RETRY_AFTER_S,
        )
    if budget.exceeded_by(usage["tokens"], usage["cost_usd"]):
        raise BudgetExceeded(
            f"today's usage ({usage['tokens']} tokens, ${usage['cost_usd']:.4f}) has reached"
            " the tenant's daily budget; new runs are accepted again at 00:00 UTC",
            seconds_until_tomorrow(now),
        )


def remaining(bound: float | None, used: float) -> float | None:
    return None if bound is None else max(0, bound - used)


class UsageController(Controller):
    path = "/v1/usage"
    tags = ["usage"]

    @get("/", guards=[requires("read")], operation_id="getUsage", opt=READ_MODEL)
    async def today(
        self, request: Request[Principal, Any, Any], min_position: MinPosition = None
    ) -> Response[dict[str, Any]]:
        """Today's (UTC) agent-run usage of the tenant, by key; its budget and what remains."""
        day = datetime.now(UTC).date()
        usage, budget, headers = await usage_and_budget(request, day, min_position)
        body = {
            "day": day.isoformat(),
            "runs": usage["runs"],
            "tokens": usage["tokens"],
            "input_tokens": usage["input_tokens"],
            "output_tokens": usage["output_tokens"],
            "cost_usd": usage["cost_usd"],
            "budget": {"tokens": budget.daily_tokens, "cost_usd": budget.daily_cost_usd},
            "remaining": {
                "tokens": remaining(budget.daily_tokens, usage["tokens"]),
                "cost_usd": remaining(budget.daily_cost_usd, usage["cost_usd"]),
            },
            "exceeded": budget.exceeded_by(usage["tokens"], usage["cost_usd"]),
            "keys": usage["keys"],
            "parked_events": usage["parked_events"],
        }
        return Response(body, headers=headers)
