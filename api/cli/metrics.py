"""`chronicle metrics`: a tenant's current figures, or one metric's series, from the
metrics history read model (what GET /v1/metrics and /v1/metrics/history answer)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.table import Column, Table

from api.cli.common import TIME_FORMATS, container, fail, out

BAR_WIDTH = 30


def metrics(
    tenant: Annotated[str, typer.Option(help="The tenant whose metrics to show.")] = "default",
    name: Annotated[
        list[str] | None, typer.Option("--name", help="Only this metric (repeatable).")
    ] = None,
    history: Annotated[
        str | None, typer.Option(help="Show this metric's series instead, one row a step.")
    ] = None,
    step: Annotated[str, typer.Option(help="Width of a step: 1m, 5m, 1h or 1d.")] = "1m",
    label: Annotated[str | None, typer.Option(help="Only this label of the series.")] = None,
    start: Annotated[
        datetime | None,
        typer.Option(
            "--from",
            help="Series start, RFC 3339 (default: an hour before --to).",
            formats=TIME_FORMATS,
        ),
    ] = None,
    end: Annotated[
        datetime | None,
        typer.Option("--to", help="Series end, RFC 3339 (default: now).", formats=TIME_FORMATS),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """A tenant's metrics over the last 24 hours and this minute; with --history, one
    metric's sum (or 95th percentile) per step. Times without an offset are UTC. Tenant
    `_system`: every tenant's together, and the operator metrics."""
    from infrastructure.metric_figures import names_for

    known = names_for(tenant)
    wanted = list(dict.fromkeys(name or ([] if history else known)))
    unknown = [n for n in [*wanted, *([history] if history else [])] if n not in known]
    if unknown:
        fail(f"unknown metric {unknown[0]!r}; known: {', '.join(known)}", 2)
    if history is not None:
        if wanted:
            fail("give either --name or --history, not both", 2)
        _series(tenant, history, label, step, start, end, as_json)
    else:
        _current(tenant, wanted, as_json)


def _current(tenant: str, names: list[str], as_json: bool) -> None:
    from infrastructure.metric_figures import DESCRIPTIONS, figures_of
    from projections.metrics import minute_of

    now = datetime.now(UTC)
    end = minute_of(now) + timedelta(minutes=1)
    with container() as c:
        figures = figures_of(tenant, c.budgets.of)
        (day, last), position = c.reads.query(
            ("metrics",),
            lambda conn: (
                figures.totals(conn, names, end - timedelta(days=1), end),
                figures.totals(conn, names, end - timedelta(minutes=1), end),
            ),
        )
    if as_json:
        items = [
            {"name": n, "description": DESCRIPTIONS[n], "last_24h": day[n], "this_minute": last[n]}
            for n in names
        ]
        print(
            json.dumps(
                {"tenant": tenant, "at": now.isoformat(), "position": position, "items": items},
                indent=2,
            )
        )
        return
    table = Table(
        Column("metric", no_wrap=True),
        "last 24 h",
        "this minute",
        "what it counts",
        title=f"{tenant} at {now:%Y-%m-%d %H:%M:%S} UTC (position {position})",
    )
    for n in names:
        table.add_row(n, _figure(day[n]), _figure(last[n]), DESCRIPTIONS[n], style=_dim(day[n]))
    out.print(table)


def _series(
    tenant: str,
    name: str,
    label: str | None,
    step: str,
    start: datetime | None,
    end: datetime | None,
    as_json: bool,
) -> None:
    from api.http.metric_history import DEFAULT_WINDOW, MAX_STEPS, STEPS
    from api.http.reads import as_utc
    from infrastructure.metric_figures import figures_of

    width = STEPS.get(step)
    if width is None:
        fail(f"unknown step {step!r}; known: {', '.join(STEPS)}", 2)
    last = as_utc(end) or datetime.now(UTC)
    first = as_utc(start) or last - DEFAULT_WINDOW
    if first > last:
        fail("--from must not be after --to", 2)
    if last - first > width * MAX_STEPS:
        fail(f"--to is more than {MAX_STEPS} steps of {step} after --from", 2)
    with container() as c:
        figures = figures_of(tenant, c.budgets.of)
        found, position = c.reads.query(
            ("metrics",),
            lambda conn: figures.series(conn, [name], label, first, last, width),
        )
    points = found[name]
    if as_json:
        shown = [{"at": at.isoformat(), "value": value} for at, value in points]
        print(
            json.dumps(
                {
                    "tenant": tenant,
                    "name": name,
                    "label": label,
                    "step": step,
                    "position": position,
                    "points": shown,
                },
                indent=2,
            )
        )
        return
    top = max((v for _, v in points if v), default=0.0)
    table = Table("at (UTC)", "value", "", title=f"{name} of {tenant}, per {step}")
    for at, value in points:
        bar = "█" * round(BAR_WIDTH * value / top) if value and top else ""
        table.add_row(
            f"{at:%Y-%m-%d %H:%M}", _figure(value), f"[cyan]{bar}[/cyan]", style=_dim(value)
        )
    out.print(table)


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _dim(value: float | None) -> str:
    return "dim" if not value else ""
