"""`chronicle alerts`: the evaluator process (the bare command), and a tenant's alerts
listed and acknowledged (from the alerts read model; an acknowledgement is a command)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import msgspec
import typer
from rich.table import Column, Table

from api.cli.common import (
    cli_context,
    container,
    fail,
    out,
    parse_id,
    run_in_foreground,
    tenant_of,
    trace_as,
)
from domain.alerts import ACKNOWLEDGED, FIRING, PENDING, RESOLVED

if TYPE_CHECKING:
    from projections.alerts import AlertRow

STATE_STYLE = {PENDING: "yellow", FIRING: "red", ACKNOWLEDGED: "cyan", RESOLVED: "green"}
SEVERITY_STYLE = {"info": "blue", "warning": "yellow", "critical": "bold red"}

group = typer.Typer(
    help="Evaluate alert rules (the bare command, a process); list and acknowledge a"
    " tenant's alerts."
)


@group.callback(invoke_without_command=True)
def alerts(ctx: typer.Context) -> None:
    """Without a command: evaluate every alert rule every CHRONICLE_ALERT_INTERVAL_S
    seconds (default 15), opening, firing and resolving alerts (one evaluator; a restart
    opens no duplicate)."""
    if ctx.invoked_subcommand is not None:
        return
    trace_as("alerts")
    run_in_foreground(lambda c: c.alert_evaluator(), "evaluating alert rules")


@group.command("list")
def alerts_list(
    tenant: Annotated[str, typer.Option(help="The tenant whose alerts to list.")],
    state: Annotated[
        str | None, typer.Option(help=f"Only these: {', '.join(STATE_STYLE)}.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """A tenant's alerts, newest first: rule, severity, state, value and who acknowledged."""
    from projections.alerts import list_alerts

    if state is not None and state not in STATE_STYLE:
        fail(f"unknown state {state!r}; known: {', '.join(STATE_STYLE)}", 2)
    with container() as c:
        rows, _ = c.reads.read(lambda conn: list_alerts(conn, tenant, state, None, limit))
    if as_json:
        print(json.dumps(msgspec.to_builtins(rows), indent=2))
        return
    table = Table(
        Column("alert id", no_wrap=True, min_width=36),
        "state",
        "severity",
        "value",
        "rule",
        "since (UTC)",
        "acknowledged",
    )
    for r in rows:
        table.add_row(
            str(r.alert_id),
            _styled(r.state, STATE_STYLE),
            _styled(r.severity, SEVERITY_STYLE),
            "" if r.value is None else f"{r.value:g}",
            f"{r.rule} ({r.metric})",
            f"{r.since:%m-%d %H:%M:%S}",
            _acknowledgement(r),
        )
    out.print(table)


@group.command("ack")
def alerts_ack(
    alert_id: Annotated[str, typer.Argument(help="The alert id from `alerts list`.")],
    tenant: Annotated[
        str | None, typer.Option(help="Only if the alert is this tenant's (else: no such alert).")
    ] = None,
    note: Annotated[str, typer.Option(help="What is being done about it.")] = "",
) -> None:
    """Acknowledge a firing alert (`AlertAcknowledged`, by cli:$USER)."""
    from domain.alerts import Alert

    parsed = parse_id(alert_id, "alert")
    with container() as c:
        owner = tenant_of(c, parsed, Alert, tenant)
        result = c.portal.call(
            c.alerts.acknowledge, cli_context(owner, "alert.acknowledge"), parsed, note
        )
    out.print(f"acknowledged: {parsed} at position {result.position}", highlight=False)


def _styled(value: str, styles: dict[str, str]) -> str:
    style = styles.get(value, "white")
    return f"[{style}]{value}[/{style}]"


def _acknowledgement(row: AlertRow) -> str:
    if row.acknowledged_by is None:
        return ""
    return f"{row.acknowledged_by}: {row.note}" if row.note else row.acknowledged_by
