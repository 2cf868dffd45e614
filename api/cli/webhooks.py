"""`chronicle webhooks`: run the delivery process, and list a tenant's webhooks and a
webhook's deliveries (never a secret)."""

from __future__ import annotations

import json
from typing import Annotated, Any
from uuid import UUID

import typer
from rich.table import Table

from api.cli.common import container, fail, out, stop_on_signals

group = typer.Typer(
    help="Deliver events to webhooks, and list webhooks and their deliveries.",
    no_args_is_help=True,
)
STATUS_STYLE = {"delivered": "green", "pending": "cyan", "retrying": "yellow", "dead": "red"}


@group.command("run")
def webhooks_run() -> None:
    """Deliver events to the tenants' webhooks, signed (one active dispatcher and
    deliverer; others stand by). `chronicle up` runs it too."""
    stop_on_signals()
    with container() as c:
        worker = c.webhook_worker()
        worker.start()
        out.print("delivering webhooks; Ctrl-C stops", highlight=False)
        try:
            worker.wait()
        except KeyboardInterrupt:
            pass
        finally:
            worker.stop()


@group.command("list")
def webhooks_list(
    tenant: Annotated[str, typer.Option(help="The tenant whose webhooks to list.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """A tenant's webhooks (as the dispatcher knows them), oldest first."""
    from infrastructure.webhooks import tenant_webhooks

    with container() as c:
        rows = c.reads.read(lambda conn: tenant_webhooks(conn, tenant, None, 10_000))
    if as_json:
        print(json.dumps([_plain(r) for r in rows], indent=2))
        return
    table = Table("webhook id", "url", "events", "state", "created")
    for r in rows:
        state = (
            "[green]active[/green]"
            if r["active"]
            else f"[red]disabled[/red] {r['disabled_reason'] or ''}"
        )
        table.add_row(
            str(r["webhook_id"]), r["url"], ",".join(r["events"]), state, str(r["created_at"])
        )
    out.print(table)


@group.command("deliveries")
def webhooks_deliveries(
    webhook_id: Annotated[str, typer.Argument(help="The webhook id from `webhooks list`.")],
    status: Annotated[
        str | None, typer.Option(help="Only these: pending, retrying, delivered, dead.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """A webhook's deliveries in log order: status, attempts, last error, response code."""
    from infrastructure.webhooks import webhook_deliveries

    try:
        parsed = UUID(webhook_id)
    except ValueError:
        fail(f"{webhook_id!r} is not a webhook id")
    if status is not None and status not in STATUS_STYLE:
        fail(f"unknown status {status!r}; known: {', '.join(STATUS_STYLE)}")
    with container() as c:
        rows = c.reads.read(lambda conn: webhook_deliveries(conn, parsed, status, None, limit))
    rows = rows[:limit]
    if as_json:
        print(json.dumps([_plain(r) for r in rows], indent=2))
        return
    table = Table("position", "event", "status", "attempts", "code", "last error")
    for r in rows:
        style = STATUS_STYLE.get(r["status"], "white")
        table.add_row(
            str(r["position"]),
            r["event_type"],
            f"[{style}]{r['status']}[/{style}]",
            str(r["attempts"]),
            "" if r["response_code"] is None else str(r["response_code"]),
            r["last_error"] or "",
        )
    out.print(table)


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v if isinstance(v, bool | int | list | None) else str(v) for k, v in row.items()}
