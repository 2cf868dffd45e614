"""`chronicle subjects`: a tenant's data subjects, erased by crypto-shredding."""

from __future__ import annotations

from typing import Annotated

import typer

from api.cli.common import cli_context, container, out

group = typer.Typer(help="Data subjects (user:<id>, conversation:<id>, document:<id>): erase one.")


@group.command("erase")
def subjects_erase(
    subject: Annotated[str, typer.Argument(help="The subject, e.g. user:alice.")],
    tenant: Annotated[str, typer.Option(help="The tenant the subject belongs to.")],
    reason: Annotated[str, typer.Option(help="Why (recorded in the log and the audit trail).")],
) -> None:
    """Erase a data subject: destroy its data keys, so every value bound to it reads as
    null everywhere, and record `SubjectErased` (by cli:$USER, with the reason)."""
    with container() as c:
        result = c.portal.call(
            c.subjects.erase, cli_context(tenant, "subject.erase"), subject, reason
        )
    out.print(f"erased: {subject} of {tenant} at position {result.position}", highlight=False)
