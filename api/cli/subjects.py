"""`chronicle subjects`: a tenant's data subjects, erased by crypto-shredding, and their
personal values exported."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from api.cli.common import cli_context, container, fail, out
from domain.erasure import check_subject
from domain.errors import InvalidValue
from domain.identity import check_tenant_name

group = typer.Typer(
    help="Data subjects (user:<id>, conversation:<id>, document:<id>): erase or export one."
)


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


@group.command("export")
def subjects_export(
    subject: Annotated[str, typer.Argument(help="The subject, e.g. user:alice.")],
    tenant: Annotated[str, typer.Option(help="The tenant whose values are exported.")],
) -> None:
    """Print every personal value of the tenant bound to the subject, with the events they
    came from: the JSON `GET /v1/subjects/{subject}/export` answers."""
    from api.http.subject_export import export_json

    try:
        check_tenant_name(tenant)
        check_subject(subject)
    except InvalidValue as error:
        fail(str(error), 2)
    with container() as c:
        for piece in export_json(c.subject_exports.export(tenant, subject)):
            sys.stdout.buffer.write(piece)
        sys.stdout.buffer.write(b"\n")
