"""`chronicle retention`: how long a tenant's conversations keep their personal values."""

from __future__ import annotations

from typing import Annotated

import typer

from api.cli.common import cli_context, container, out
from domain.identity import RETENTION_MAX_DAYS

group = typer.Typer(help="How long a tenant's conversations are kept.", no_args_is_help=True)


@group.command("set")
def retention_set(
    tenant: Annotated[str, typer.Option(help="The tenant.")],
    days: Annotated[
        int,
        typer.Option(
            min=0, max=RETENTION_MAX_DAYS, help="Days a conversation is kept; 0: until erased."
        ),
    ],
) -> None:
    """Erase the tenant's conversations (as `subjects erase` does) once they are this many
    days old; the scheduler checks every CHRONICLE_RETENTION_SWEEP_S seconds (300)."""
    with container() as c:
        c.portal.call(
            c.identity.set_retention,
            cli_context(tenant, "retention.set"),
            tenant,
            days or None,
        )
    kept = (f"{days} day" + ("s" if days != 1 else "")) if days else "until erased"
    out.print(f"{tenant}: conversations are kept {kept}", highlight=False)
