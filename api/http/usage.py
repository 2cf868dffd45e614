"""HTTP resource for usage: today's agent-run tokens and cost, the tenant's budget and what
remains of it. (The refusal of new runs over budget is the runs use case's.)"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import anyio.to_thread
from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.response import Response

from api.http.auth import requires
from api.http.reads import READ_MODEL, MinPosition, ReadModels
from application.budgets import Budgets
from application.context import Principal
from infrastructure.parking import parked_count
from infrastructure.read_models import Conn
from projections.usage import usage_of_day


def remaining(bound: float | None, used: float) -> float | None:
    return None if bound is None else max(0, bound - used)


class UsageController(Controller):
    path = "/v1/usage"
    tags = ["usage"]

    @get("/", guards=[requires("read")], operation_id="getUsage", opt=READ_MODEL)
    async def today(
        self,
        request: Request[Principal, Any, Any],
        read_models: NamedDependency[ReadModels],
        budgets: NamedDependency[Budgets],
        min_position: MinPosition = None,
    ) -> Response[dict[str, Any]]:
        """Today's (UTC) agent-run usage of the tenant, by key; its budget and what remains,
        and how many of its usage events are parked (not counted)."""
        tenant, day = request.user.tenant_id, datetime.now(UTC).date()

        def counted(conn: Conn) -> dict[str, Any]:
            return usage_of_day(conn, tenant, day) | {
                "parked_events": parked_count(conn, "usage", tenant)
            }

        usage, headers = await read_models.query(("usage",), counted, min_position)
        budget = await anyio.to_thread.run_sync(budgets.of, tenant)
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
