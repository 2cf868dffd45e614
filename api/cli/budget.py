"""`chronicle budget`: bound a tenant's daily agent-run usage."""

from __future__ import annotations

from typing import Annotated

import typer

from api.cli.common import cli_context, container, out

group = typer.Typer(help="Bound a tenant's daily agent-run usage.", no_args_is_help=True)


@group.command("set")
def budget_set(
    tenant: Annotated[str, typer.Option(help="The tenant.")],
    tokens: Annotated[
        int | None, typer.Option(min=0, help="Tokens per UTC day (input + output).")
    ] = None,
    cost_usd: Annotated[float | None, typer.Option(min=0, help="Cost in USD per UTC day.")] = None,
) -> None:
    """Set a tenant's daily budget; a bound left out is lifted (then the server's
    CHRONICLE_DAILY_*_BUDGET applies). Over budget, new agent runs get 429."""
    with container() as c:
        c.portal.call(
            c.identity.set_budget, cli_context(tenant, "budget.set"), tenant, tokens, cost_usd
        )
    shown_tokens = "unbounded" if tokens is None else str(tokens)
    shown_cost = "unbounded" if cost_usd is None else f"${cost_usd}"
    out.print(f"{tenant}: {shown_tokens} tokens, {shown_cost} per day", highlight=False)
