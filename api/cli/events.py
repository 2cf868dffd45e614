"""`chronicle events` (tail the log, show an aggregate as of then) and `chronicle replay`
(an agent run step by step): reading the event log."""

from __future__ import annotations

import json
import sys
import threading
import time
from datetime import datetime
from typing import TYPE_CHECKING, Annotated
from uuid import UUID

import msgspec
import typer
from rich.table import Table

from api.cli.common import TIME_FORMATS, container, fail, out, stop_on_signals
from projections.runs import WIRE_TYPES

if TYPE_CHECKING:
    from domain.events import RecordedEvent

TAIL_PAGE = 500
commands = typer.Typer()
group = typer.Typer(help="Read the event log: tail it, or show one aggregate as of then.")


@commands.command()
def replay(
    run_id: Annotated[str, typer.Argument(help="The agent run's id.")],
    speed: Annotated[
        float | None,
        typer.Option(
            min=0.01, help="Replay at the recorded pace, this many times faster (1 = as recorded)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per step.")] = False,
    tenant: Annotated[
        str | None, typer.Option(help="Only if the run is this tenant's (else: no such run).")
    ] = None,
) -> None:
    """An agent run step by step, with the time of each step since the run began."""
    try:
        aggregate_id = UUID(run_id)
    except ValueError:
        fail(f"not a run id: {run_id!r}", 2)
    stop_on_signals()
    with container() as c:
        steps = c.store.read_stream(aggregate_id, 1, 100_000)
    if not steps or steps[0].category != "run" or tenant not in (None, steps[0].tenant_id):
        fail(f"no agent run {aggregate_id}")
    began = steps[0].recorded_at
    previous = began
    try:
        for step in steps:
            if speed:
                time.sleep(max(0.0, (step.recorded_at - previous).total_seconds() / speed))
            previous = step.recorded_at
            offset_ms = (step.recorded_at - began).total_seconds() * 1000
            name = WIRE_TYPES.get(step.type, step.type)
            if as_json:
                print(
                    json.dumps(
                        {
                            "offset_ms": round(offset_ms, 3),
                            "step": name,
                            "position": step.position,
                            "data": step.data,
                        },
                        default=str,
                    ),
                    flush=True,
                )
            else:
                detail = ", ".join(
                    f"{k}={v!r}" for k, v in step.data.items() if k not in ("tenant_id",)
                )
                out.print(
                    f"+{offset_ms:10.1f} ms  [bold]{name:<16}[/bold] {detail}"[:400],
                    highlight=False,
                )
    except KeyboardInterrupt:
        return


@group.command("tail")
def events_tail(
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new events.")
    ] = False,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's events.")] = None,
    event_type: Annotated[str | None, typer.Option("--type", help="Only this event type.")] = None,
    start: Annotated[int | None, typer.Option("--from", help="After this position.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="How many (without --follow).")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """The latest events of the log (or those after --from), optionally following it."""
    from infrastructure.log_follower import LogFollower, Retrying
    from infrastructure.read_models import Conn, connect

    stop_on_signals()
    with container() as c:
        position = start if start is not None else max(0, c.events.head() - limit)
        reader = c.events.reader

        def step(conn: Conn) -> bool:
            """Print the next page; whether it was full."""
            nonlocal position
            rows = reader.read(conn, position, TAIL_PAGE, tenant=tenant, event_type=event_type)
            for event in reader.events(rows):
                position = event.position
                _print_event(event, as_json)
            sys.stdout.flush()  # a pipe would hold what a follower waits for
            return len(rows) == TAIL_PAGE

        try:
            if follow:  # until a signal, which raises KeyboardInterrupt
                LogFollower(c.dsn, Retrying("events tail")).run(threading.Event(), step)
            with connect(c.dsn) as conn:
                while step(conn):
                    pass
        except KeyboardInterrupt:
            return


@group.command("show")
def events_show(
    aggregate: Annotated[str, typer.Argument(help="The aggregate id.")],
    version: Annotated[int | None, typer.Option(min=1, help="As of this version.")] = None,
    as_of: Annotated[
        datetime | None, typer.Option(help="As of this time (RFC 3339).", formats=TIME_FORMATS)
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    tenant: Annotated[
        str | None, typer.Option(help="Only if the aggregate is this tenant's (else: none).")
    ] = None,
) -> None:
    """An aggregate's state as of a version or time, and the events that led there."""
    from api.http.reads import as_utc

    try:
        aggregate_id = UUID(aggregate)
    except ValueError:
        fail(f"not an aggregate id: {aggregate!r}", 2)
    as_of = as_utc(as_of)
    with container() as c:
        first = c.store.read_stream(aggregate_id, 1, 1)
        if not first or tenant not in (None, first[0].tenant_id):
            fail(f"no stream {aggregate_id}")
        found = c.streams.state_at(first[0].tenant_id, aggregate_id, version, as_of)
    state = msgspec.to_builtins(found.state)
    if as_json:
        events = [
            {"position": e.position, "version": e.version, "type": e.type, "data": e.data}
            for e in found.events
        ]
        body = {"id": str(found.aggregate_id), "type": found.kind, "version": found.version}
        print(json.dumps(body | {"state": state, "events": events}, default=str))
        return
    out.print(f"[bold]{found.kind}[/bold] {found.aggregate_id} at version {found.version}")
    out.print_json(data=state, default=str)
    table = Table("position", "version", "type", "recorded", title="events that led here")
    for e in found.events:
        table.add_row(str(e.position), str(e.version), e.type, e.recorded_at.isoformat())
    out.print(table)


def _print_event(event: RecordedEvent, as_json: bool) -> None:
    if as_json:
        print(
            json.dumps(
                {
                    "position": event.position,
                    "tenant": event.tenant_id,
                    "category": event.category,
                    "aggregate_id": str(event.aggregate_id),
                    "version": event.version,
                    "type": event.type,
                    "recorded_at": event.recorded_at.isoformat(),
                    "data": event.data,
                    "metadata": event.metadata,
                },
                default=str,
            ),
            flush=True,
        )
        return
    out.print(
        f"{event.position:>8}  {event.recorded_at:%Y-%m-%d %H:%M:%S}  {event.tenant_id:<16}"
        f" {event.category:<12} {event.type:<24} {event.aggregate_id} v{event.version}",
        highlight=False,
    )
