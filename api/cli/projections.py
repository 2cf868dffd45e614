"""`chronicle projections`: each read model's status; rebuild one; list, retry and skip
the events a projection parked.

Retrying and skipping are recorded in the log, as audit events.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Annotated
from uuid import UUID

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from api.cli.common import cli_actor, container, err, fail, out
from infrastructure.event_store import EVENTS_TABLE
from infrastructure.parking import ParkedRow, list_parked
from infrastructure.projector import RebuildError
from infrastructure.read_models import ProjectionStatus, connect
from infrastructure.repairs import RepairRefused, Retried, retry_parked, skip

if TYPE_CHECKING:
    from api.bootstrap import Container

group = typer.Typer(
    help="Inspect and rebuild read-model projections; list, retry and skip parked events.",
    no_args_is_help=True,
)


@group.command("status")
def projections_status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Each projection's position, the log head, lag in events and seconds, state and
    parked events."""
    with container() as c:
        statuses = c.reads.statuses(c.events.reader)
    if as_json:
        print(json.dumps([_status_json(s) for s in statuses], indent=2))
        return
    table = Table("projection", "position", "head", "lag", "lag (s)", "state", "parked", "error")
    for s in statuses:
        colour = {"running": "green", "idle": "yellow"}.get(s.state, "red")
        error = f"at {s.error_position}: {s.error}" if s.error else ""
        table.add_row(
            s.name,
            str(s.position),
            str(s.head),
            str(s.lag),
            f"{s.lag_seconds:.1f}",
            f"[{colour}]{s.state}[/{colour}]",
            f"[red]{s.parked}[/red]" if s.parked else "0",
            error,
        )
    out.print(table)


def _status_json(s: ProjectionStatus) -> dict[str, object]:
    return {
        "name": s.name,
        "position": s.position,
        "head": s.head,
        "lag": s.lag,
        "lag_seconds": s.lag_seconds,
        "state": s.state,
        "parked": s.parked,
        "generation": s.generation,
        "error": s.error,
        "error_position": s.error_position,
    }


def known_projection(c: Container, name: str) -> None:
    if name not in c.projections:
        fail(f"unknown projection {name!r}; known: {', '.join(c.projections)}", 2)


@group.command("parked")
def projections_parked(
    name: Annotated[str | None, typer.Argument(help="Only this projection's.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Events set aside because a projection could not apply them (the first of each
    aggregate with its error), and the later events of the same aggregate behind them."""
    with container() as c:
        if name is not None:
            known_projection(c, name)
        with connect(c.dsn) as conn:
            parked = list_parked(conn, EVENTS_TABLE, name)
    if as_json:
        print(json.dumps([_parked_json(p) for p in parked], indent=2))
        return
    if not parked:
        out.print(f"nothing is parked{f' for {name}' if name else ''}", highlight=False)
        return
    table = Table("projection", "position", "type", "tenant", "aggregate", "error class")
    for p in parked:
        table.add_row(
            p.name, str(p.position), p.type, p.tenant_id, str(p.aggregate_id), p.error_class or ""
        )
    out.print(table)
    out.print("Causes (the first parked event of each aggregate; the others wait behind it):")
    for p in parked:
        if p.error_class is not None:
            out.print(
                f"  {p.name} {p.position}: {p.error_class}: {p.error}",
                highlight=False,
                soft_wrap=True,
            )


def _parked_json(p: ParkedRow) -> dict[str, object]:
    return {
        "name": p.name,
        "position": p.position,
        "type": p.type,
        "tenant_id": p.tenant_id,
        "aggregate_id": str(p.aggregate_id),
        "error_class": p.error_class,
        "error": p.error,
        "parked_at": p.parked_at.isoformat(),
    }


@group.command("rebuild")
def projections_rebuild(
    name: Annotated[str, typer.Argument(help="The projection to rebuild.")],
) -> None:
    """Build a fresh copy beside the live one from the whole log, then swap it in."""
    with container() as c:
        known_projection(c, name)
        rebuild = c.rebuild(name)
        began = time.monotonic()
        columns = (
            TextColumn("rebuilding {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]} events/s"),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=err, transient=False) as progress:
            task = progress.add_task(name, total=None, rate="0")

            def advance(position: int, head: int) -> None:
                elapsed = max(time.monotonic() - began, 1e-6)
                progress.update(
                    task,
                    completed=position,
                    total=max(head, position),
                    rate=f"{position / elapsed:,.0f}",
                )

            try:
                generation, position, events = rebuild.run(advance)
            except RebuildError as error:
                fail(str(error))
        seconds = time.monotonic() - began
        c.portal.call(
            c.projection_log.rebuilt,
            cli_actor(),
            name,
            generation,
            position,
            events,
            round(seconds, 3),
        )
    out.print(
        f"rebuilt {name} to position {position}: {events} events in {seconds:.1f}s "
        f"({events / max(seconds, 1e-6):,.0f} events/s)",
        highlight=False,
    )
    if rebuild.parked_events:
        err.print(
            f"{rebuild.parked_events} event(s) could not be applied and are parked;"
            f" see `chronicle projections parked {name}`",
            highlight=False,
        )


@group.command("retry")
def projections_retry(
    name: Annotated[str, typer.Argument(help="The projection whose parked events to retry.")],
    aggregate: Annotated[
        str | None, typer.Option(help="Only the events of this aggregate (its id).")
    ] = None,
) -> None:
    """Apply parked events again after a fix, in order (recorded as an audit event)."""
    try:
        aggregate_id = UUID(aggregate) if aggregate is not None else None
    except ValueError:
        fail(f"not an aggregate id: {aggregate!r}", 2)
    with container() as c:
        known_projection(c, name)
        try:
            retried = retry_parked(c.dsn, c.projections[name], c.store.decode_values, aggregate_id)
        except RepairRefused as problem:
            fail(str(problem))
        c.portal.call(
            c.projection_log.retried,
            cli_actor(),
            name,
            aggregate,
            len(retried.applied),
            len(retried.still_parked),
        )
    _print_retried(name, retried)


def _print_retried(name: str, retried: Retried) -> None:
    if retried.resumed:
        out.print(
            f"{name} was stopped by an older version and runs again; an event it still cannot"
            f" apply will be parked (see `chronicle projections parked {name}`)",
            highlight=False,
            soft_wrap=True,
        )
        return
    if not retried.applied and not retried.still_parked:
        out.print(f"nothing is parked for {name}", highlight=False, soft_wrap=True)
        return
    out.print(
        f"applied {len(retried.applied)}: {_positions(retried.applied)}",
        highlight=False,
        soft_wrap=True,
    )
    out.print(
        f"still parked {len(retried.still_parked)}: {_positions(retried.still_parked)}",
        highlight=False,
        soft_wrap=True,
    )


def _positions(positions: list[int], shown: int = 20) -> str:
    listed = ", ".join(map(str, positions[:shown]))
    return listed + (f", … ({len(positions) - shown} more)" if len(positions) > shown else "")


@group.command("skip")
def projections_skip(
    name: Annotated[str, typer.Argument(help="The projection.")],
    at: Annotated[str, typer.Argument(metavar="position", help="The parked event's position.")],
) -> None:
    """Drop one parked event deliberately (recorded as an audit event); a projection
    stopped by an older version moves past its poison event."""
    if not at.isdigit() or len(at) > 18:
        fail(f"not a position: {at!r}", 2)
    position = int(at)
    with container() as c:
        known_projection(c, name)
        try:
            skipped = skip(c.dsn, name, position)
        except RepairRefused as problem:
            fail(str(problem))
        c.portal.call(c.projection_log.skipped, cli_actor(), name, position, skipped.error)
    out.print(f"{name} skipped the event at position {position}", highlight=False, soft_wrap=True)
    if skipped.behind:
        out.print(
            f"{skipped.behind} later event(s) of aggregate {skipped.aggregate_id} are still"
            f" parked; `chronicle projections retry {name} --aggregate {skipped.aggregate_id}`"
            " applies them",
            highlight=False,
            soft_wrap=True,
        )
