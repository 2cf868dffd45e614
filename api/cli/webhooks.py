"""`chronicle webhooks`: run the delivery process, list a tenant's webhooks and a
webhook's deliveries (never a secret), and deliver a delivery again."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from api.cli.common import (
    cli_context,
    container,
    fail,
    out,
    parse_id,
    run_in_foreground,
    tenant_of,
)

group = typer.Typer(
    help="Deliver events to webhooks; list webhooks and their deliveries; retry one.",
    no_args_is_help=True,
)
ONLY_TENANT = "Only if the webhook is this tenant's (else: no such webhook)."
STATUS_STYLE = {"delivered": "green", "pending": "cyan", "retrying": "yellow", "dead": "red"}


@group.command("run")
def webhooks_run() -> None:
    """Deliver events to the tenants' webhooks, signed (one active dispatcher and
    deliverer; others stand by). `chronicle up` runs it too."""
    run_in_foreground(lambda c: c.webhook_worker(), "delivering webhooks")


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
    tenant: Annotated[str | None, typer.Option(help=ONLY_TENANT)] = None,
    status: Annotated[
        str | None, typer.Option(help="Only these: pending, retrying, delivered, dead.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """A webhook's deliveries in log order: status, attempts, last error, response code."""
    from domain.webhook import Webhook
    from infrastructure.webhooks import webhook_deliveries

    parsed = parse_id(webhook_id, "webhook")
    if status is not None and status not in STATUS_STYLE:
        fail(f"unknown status {status!r}; known: {', '.join(STATUS_STYLE)}", 2)
    with container() as c:
        tenant_of(c, parsed, Webhook, tenant)
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


@group.command("retry")
def webhooks_retry(
    webhook_id: Annotated[str, typer.Argument(help="The webhook id from `webhooks list`.")],
    delivery_id: Annotated[str, typer.Argument(help="The delivery id from `webhooks deliveries`.")],
    tenant: Annotated[str | None, typer.Option(help=ONLY_TENANT)] = None,
) -> None:
    """Deliver a delivery again from its first attempt (`WebhookDeliveryRetried`, by
    cli:$USER); the dispatcher puts it back in line."""
    from domain.webhook import Webhook
    from infrastructure.webhooks import find_delivery

    hook, delivery = parse_id(webhook_id, "webhook"), parse_id(delivery_id, "delivery")
    with container() as c:
        owner = tenant_of(c, hook, Webhook, tenant)
        if c.reads.read(lambda conn: find_delivery(conn, owner, hook, delivery)) is None:
            fail(f"delivery {delivery} of webhook {hook} not found")
        result = c.portal.call(
            c.webhooks.retry_delivery,
            cli_context(owner, "webhook.retry_delivery"),
            hook,
            delivery,
        )
    out.print(f"retried: delivery {delivery} at position {result.position}", highlight=False)


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v if isinstance(v, bool | int | list | None) else str(v) for k, v in row.items()}
