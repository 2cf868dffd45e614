"""`chronicle audit`: prove the log was not altered (the hash chain), and export who did
what (the audit read model)."""

from __future__ import annotations

import json
from datetime import datetime
from functools import partial
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from api.cli.common import TIME_FORMATS, container, err, fail, out
from infrastructure.parking import parked_count
from infrastructure.read_models import connect

group = typer.Typer(
    help="Prove the log was not altered; export who did what.", no_args_is_help=True
)


@group.command("verify")
def audit_verify(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Seal the log's tail, then recompute the hash chain and name the first break."""
    from infrastructure.chain import ensure_chain, seal, verify

    with container() as c:
        with connect(c.dsn) as conn:
            ensure_chain(conn)
            while seal(conn) > 0:
                pass
        columns = (
            TextColumn("verifying"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=err, transient=True) as progress:
            task = progress.add_task("chain", total=None)
            verdict = verify(
                c.dsn, lambda done, total: progress.update(task, completed=done, total=total)
            )
    if as_json:
        print(
            json.dumps(
                {
                    "intact": verdict.intact,
                    "checked": verdict.checked,
                    "sealed_up_to": verdict.sealed_up_to,
                    "broken_at": verdict.broken_at,
                    "reason": verdict.reason,
                }
            )
        )
    if not verdict.intact:
        fail(f"the chain breaks at position {verdict.broken_at}: {verdict.reason}")
    if not as_json:
        out.print(
            f"intact: {verdict.checked} events verified up to position {verdict.sealed_up_to}"
        )


@group.command("export")
def audit_export(
    since: Annotated[
        datetime | None, typer.Option(help="From this time (RFC 3339).", formats=TIME_FORMATS)
    ] = None,
    until: Annotated[
        datetime | None, typer.Option(help="Before this time (RFC 3339).", formats=TIME_FORMATS)
    ] = None,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's entries.")] = None,
    export_format: Annotated[str, typer.Option("--format", help="Only jsonl.")] = "jsonl",
) -> None:
    """Every command, accepted or denied, one JSON object per line, oldest first."""
    from api.http.reads import as_utc
    from projections.audit import AuditQuery, audit_entries

    if export_format != "jsonl":
        fail(f"unknown format {export_format!r}; the only one is jsonl", 2)
    since, until = as_utc(since), as_utc(until)
    if since is not None and until is not None and since >= until:
        fail("--since must be before --until", 2)
    query = AuditQuery(tenant, since=since, until=until)
    with container() as c:
        if c.projector("audit").catch_up() < 0:
            err.print("warning: the audit projection is stopped; see `projections status`")
        with connect(c.dsn) as conn:
            if parked := parked_count(conn, "audit"):
                err.print(
                    f"warning: {parked} audit event(s) are parked and missing here;"
                    " see `chronicle projections parked audit`"
                )
        after: int | None = 0
        while after is not None:
            page = partial(audit_entries, query=query, after=after, limit=1000)
            (rows, after), _ = c.reads.query(("audit",), page)
            for row in rows:
                print(json.dumps(row, default=str))
