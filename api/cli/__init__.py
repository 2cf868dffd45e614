"""The `chronicle` command line: run the servers, and administer keys.

Every command answers bad input with a one-line message and a non-zero exit.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from functools import partial
from typing import Annotated, NoReturn
from uuid import UUID

import eventsourcing.persistence
import httpx
import msgspec
import nats.errors
import psycopg
import redis.exceptions
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from api.bootstrap import Container
from api.http.reads import as_utc
from api.logs import configure_logging
from application.context import CommandContext
from application.errors import ApplicationError, StoreUnavailable
from application.identity import IssuedKey
from domain.errors import DomainError
from domain.events import RecordedEvent
from domain.identity import SCOPES
from infrastructure import health as checks
from infrastructure.event_store import EVENTS_TABLE
from infrastructure.parking import ParkedRow, list_parked, parked_count
from infrastructure.projector import RebuildError
from infrastructure.read_models import ProjectionStatus, connect
from infrastructure.repairs import RepairRefused, Retried, retry_parked, skip
from infrastructure.runtime import DataDirBusy, read_runtime, servers_for
from infrastructure.settings import Settings, SettingsError
from projections.runs import WIRE_TYPES

app = typer.Typer(
    name="chronicle",
    help="Chronicle: an event-sourced CQRS backend for AI-assistant and agent platforms.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
projections_app = typer.Typer(
    help="Inspect and rebuild read-model projections; list, retry and skip parked events.",
    no_args_is_help=True,
)
app.add_typer(projections_app, name="projections")
events_app = typer.Typer(help="Read the event log: tail it, or show one aggregate as of then.")
app.add_typer(events_app, name="events")
audit_app = typer.Typer(
    help="Prove the log was not altered; export who did what.", no_args_is_help=True
)
app.add_typer(audit_app, name="audit")
budget_app = typer.Typer(help="Bound a tenant's daily agent-run usage.", no_args_is_help=True)
app.add_typer(budget_app, name="budget")

# A server named by the settings does not answer: one line, not a traceback.
UNREACHABLE = (
    psycopg.OperationalError,
    eventsourcing.persistence.OperationalError,
    StoreUnavailable,
    redis.exceptions.ConnectionError,
    nats.errors.NoServersError,
    ConnectionError,
)
TIME_FORMATS = ["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]
out = Console()
err = Console(stderr=True)


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def settings_from_env() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as error:
        fail(str(error), 2)


def cli_actor() -> str:
    return f"cli:{os.environ.get('USER') or 'unknown'}"


def cli_context(tenant: str, command: str) -> CommandContext:
    return CommandContext(tenant_id=tenant, actor=cli_actor(), command=command)


@contextmanager
def container() -> Iterator[Container]:
    """A container on the servers of a running `chronicle up`, or of the URLs, or embedded."""
    settings = settings_from_env()
    try:
        with servers_for(settings) as resolved:
            built = Container.build(resolved)
            try:
                yield built
            finally:
                built.close()
    except DataDirBusy as error:
        fail(f"{error}; wait until it has started, then try again")
    except (DomainError, ApplicationError) as error:
        fail(str(error))


@app.command()
def up() -> None:
    """Start Chronicle: embedded servers for unset URLs, then the API. Ctrl-C stops all."""
    from api.server import PortTaken, run_up

    _stop_on_signals()
    try:
        run_up(settings_from_env(), out)
    except (DataDirBusy, PortTaken) as error:
        fail(str(error))
    except KeyboardInterrupt:
        return  # a requested stop is a clean exit


@app.command()
def serve(
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="API processes sharing the port [CHRONICLE_API_WORKERS, 1]"),
    ] = None,
) -> None:
    """Start the API only, on the servers named by CHRONICLE_*_URL or a running `up`."""
    from api.server import run_serve

    settings = settings_from_env()
    if workers is not None:
        settings = replace(settings, api_workers=workers)
    _stop_on_signals()
    try:
        run_serve(settings)
    except KeyboardInterrupt:
        return


@app.command()
def relay() -> None:
    """Publish every committed event to NATS JetStream (one active relay; others stand by)."""
    from api.server import run_relay

    out.print("relaying events to NATS JetStream; Ctrl-C stops", highlight=False)
    run_relay(settings_from_env())


@app.command()
def scheduler() -> None:
    """Time out tasks whose lease expired (timers live in the log; restarts lose none)."""
    _stop_on_signals()
    with container() as c:
        ticking = c.scheduler()
        ticking.start()
        out.print("scheduling task timeouts; Ctrl-C stops", highlight=False)
        try:
            ticking.wait()
        except KeyboardInterrupt:
            pass
        finally:
            ticking.stop()


@app.command()
def seal() -> None:
    """Seal the hash chain up to the head of the log, as it grows (sealers may run side by
    side); `audit verify` then proves the log was not altered."""
    _stop_on_signals()
    with container() as c:
        sealer = c.sealer()
        sealer.start()
        out.print("sealing the hash chain; Ctrl-C stops", highlight=False)
        try:
            while True:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            sealer.stop()


# What `chronicle health KIND` asks of the database for each command of `up`'s workers.
WORKER_HEALTH = {
    "project": checks.projections,
    "relay": checks.relay,
    "seal": checks.chain,
    "scheduler": checks.scheduler,
}


@app.command()
def health(
    kind: Annotated[
        str, typer.Argument(help=f"Whose work: {', '.join(WORKER_HEALTH)} (the command).")
    ],
) -> None:
    """Exit 0 while the work of that command gets done, else 1 and why (a healthcheck).

    It asks the database, not a process, so with several processes of a kind
    it answers for their work together. It writes nothing.
    """
    judge = WORKER_HEALTH.get(kind)
    if judge is None:
        fail(f"unknown kind {kind!r}; known: {', '.join(WORKER_HEALTH)}", 2)
    settings = settings_from_env()
    dsn = settings.database_url or (read_runtime(settings.data_dir) or {}).get("database_url")
    if not dsn:
        fail("no database to ask: set CHRONICLE_DATABASE_URL or start `chronicle up`")
    verdict = checks.check(dsn, judge)
    if not verdict.ok:
        fail(f"{kind}: {verdict.detail}")
    out.print(f"{kind}: ok, {verdict.detail}", highlight=False)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def worker(
    ctx: typer.Context,
    task_type: Annotated[
        list[str], typer.Option("--type", help="Task types to claim (repeatable).")
    ],
    api_url: Annotated[
        str | None, typer.Option(envvar="CHRONICLE_API_URL", help="Default: the running `up`.")
    ] = None,
    api_key: Annotated[
        str | None, typer.Option(envvar="CHRONICLE_API_KEY", help="Default: the dev key.")
    ] = None,
    worker_id: Annotated[str | None, typer.Option(help="Default: host:pid.")] = None,
    max_tasks: Annotated[int | None, typer.Option(help="Stop after this many tasks.")] = None,
) -> None:
    """Run `-- CMD` for each claimed task: payload on stdin, result from stdout."""
    from api.worker import Worker, WorkerConfig, default_worker_id

    command = list(ctx.args)
    if not command:
        fail("give the command to run after --, e.g. chronicle worker --type echo -- cat", 2)
    settings = settings_from_env()
    running = read_runtime(settings.data_dir) or {}
    url = api_url or running.get("api_url") or f"http://{settings.host}:{settings.port}"
    key_file = settings.data_dir / "dev-api-key"
    key = api_key or (key_file.read_text().strip() if key_file.exists() else None)
    if not key:
        fail("no API key: set CHRONICLE_API_KEY or run `chronicle up` first", 2)
    config = WorkerConfig(url, key, task_type, command, worker_id or default_worker_id(), max_tasks)
    _stop_on_signals()
    try:
        done = Worker(config).run()
    except KeyboardInterrupt:
        return
    except httpx.HTTPError as error:
        fail(f"cannot reach Chronicle at {url}: {error}")
    out.print(f"processed {done} task(s)", highlight=False)


@app.command()
def project(
    name: Annotated[
        list[str] | None, typer.Option("--name", help="Only these projections (repeatable).")
    ] = None,
) -> None:
    """Run projection workers in the foreground (as many processes as you like)."""
    _stop_on_signals()
    with container() as c:
        unknown = sorted(set(name or []) - set(c.projections))
        if unknown:
            fail(f"unknown projection {', '.join(unknown)}; known: {', '.join(c.projections)}", 2)
        engine = c.projection_engine(name)
        engine.start()
        out.print(f"projecting {', '.join(name or c.projections)}; Ctrl-C stops", highlight=False)
        try:
            engine.wait()
        except KeyboardInterrupt:
            pass
        finally:
            engine.stop()


@projections_app.command("status")
def projections_status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Each projection's position, the log head, lag in events and seconds, state and
    parked events."""
    with container() as c:
        statuses = c.reads.statuses(EVENTS_TABLE, c.store.decode)
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


@projections_app.command("parked")
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


@projections_app.command("rebuild")
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


@projections_app.command("retry")
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


@projections_app.command("skip")
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


@app.command()
def bench(
    quick: Annotated[bool, typer.Option(help="Smaller sizes, one run each.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    scenario: Annotated[
        list[str] | None,
        typer.Option(
            help="Only these scenarios (repeatable): rebuild, live, tasks, append, load, http."
        ),
    ] = None,
) -> None:
    """Measure Chronicle beside its baselines on fresh embedded servers."""
    from api.bench.runner import run_bench

    figures = run_bench(quick, err if as_json else out, set(scenario) if scenario else None)
    if as_json:
        print(json.dumps(figures))


@audit_app.command("verify")
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


@audit_app.command("export")
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


@budget_app.command("set")
def budget_set(
    tenant: Annotated[str, typer.Option(help="The tenant.")],
    tokens: Annotated[
        int | None, typer.Option(min=0, help="Tokens per UTC day (input + output).")
    ] = None,
    cost_usd: Annotated[float | None, typer.Option(min=0, help="Cost in USD per UTC day.")] = None,
) -> None:
    """Set a tenant's daily budget; a bound left out is lifted (then the server's
    CHRONICLE_DAILY_*_BUDGET applies). Over budget, new agent runs get 429."""
    with container() as c:
        c.portal.call(
            c.identity.set_budget, cli_context(tenant, "budget.set"), tenant, tokens, cost_usd
        )
    shown_tokens = "unbounded" if tokens is None else str(tokens)
    shown_cost = "unbounded" if cost_usd is None else f"${cost_usd}"
    out.print(f"{tenant}: {shown_tokens} tokens, {shown_cost} per day", highlight=False)


@app.command()
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
    _stop_on_signals()
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


@events_app.command("tail")
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
    _stop_on_signals()
    with container() as c:
        position = start if start is not None else max(0, c.events.head() - limit)
        try:
            while True:
                page = c.events.after(position, 500, tenant)
                for event in page:
                    position = event.position
                    if event_type is None or event.type == event_type:
                        _print_event(event, as_json)
                if not follow:
                    if len(page) < 500:
                        return
                    continue
                if len(page) < 500:
                    time.sleep(0.5)
        except KeyboardInterrupt:
            return


@events_app.command("show")
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


@keys_app.command("create")
def keys_create(
    tenant: Annotated[str, typer.Option(help="Tenant name; created if new.")],
    scopes: Annotated[
        str, typer.Option(help=f"Comma-separated scopes from: {', '.join(SCOPES)}.")
    ] = "commands:write,read,live:read",
    name: Annotated[str, typer.Option(help="A label for the key.")] = "cli",
    rate_limit: Annotated[
        int | None, typer.Option(help="Requests per minute (default: the server's).")
    ] = None,
) -> None:
    """Issue a key; its secret is printed once, as the last line."""
    wanted = [s.strip() for s in scopes.split(",") if s.strip()]
    with container() as c:
        context = cli_context(tenant, "keys.create")
        issued = c.portal.call(c.identity.issue_key, context, tenant, name, wanted, rate_limit)
    _print_issued(issued)


@keys_app.command("rotate")
def keys_rotate(
    key_id: Annotated[str, typer.Argument(help="The key id from `keys list`.")],
) -> None:
    """Issue a successor with the same tenant, name, scopes and limit. The old key stays
    valid until you revoke it, so clients can switch over first."""
    parsed = _key_id(key_id)
    with container() as c:
        key = c.identity.find_key(parsed)
        issued = c.portal.call(
            c.identity.rotate_key, cli_context(key.tenant_id, "keys.rotate"), parsed
        )
    out.print(f"rotated: {parsed} (still valid until revoked)", highlight=False)
    _print_issued(issued)


def _key_id(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        fail(f"not a key id: {text!r}", 2)


def _print_issued(issued: IssuedKey) -> None:
    out.print(f"key id:  {issued.key_id}", highlight=False)
    out.print(f"tenant:  {issued.tenant_id}", highlight=False)
    out.print(f"scopes:  {','.join(issued.scopes)}", highlight=False)
    out.print("secret (shown once):", highlight=False)
    print(issued.token)


@keys_app.command("list")
def keys_list(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's keys.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List keys (never their secrets)."""
    with container() as c:
        keys = c.identity.list_keys(tenant)
    if as_json:
        rows = [
            {
                "key_id": str(k.key_id),
                "tenant": k.tenant_id,
                "name": k.name,
                "scopes": list(k.scopes),
                "revoked": k.revoked,
                "created_at": k.created_at,
                "rotated_from": k.rotated_from,
            }
            for k in keys
        ]
        print(json.dumps(rows, indent=2))
        return
    table = Table("key id", "tenant", "name", "scopes", "state", "created")
    for k in keys:
        state = "[red]revoked[/red]" if k.revoked else "[green]active[/green]"
        table.add_row(str(k.key_id), k.tenant_id, k.name, ",".join(k.scopes), state, k.created_at)
    out.print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key id from `keys list`.")],
    reason: Annotated[str, typer.Option(help="Why, for the audit trail.")] = "",
) -> None:
    """Revoke a key; every API process refuses it within a second."""
    parsed = _key_id(key_id)
    with container() as c:
        key = c.identity.find_key(parsed)
        c.portal.call(
            c.identity.revoke_key, cli_context(key.tenant_id, "keys.revoke"), parsed, reason
        )
    out.print(f"revoked {parsed}", highlight=False)


def _stop_on_signals() -> None:
    """SIGTERM behaves like Ctrl-C, so every `finally` runs and children are stopped."""

    def stop(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


def main() -> None:
    configure_logging()
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(0)
    except UNREACHABLE as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        err.print(
            f"[red]error:[/red] a server could not be reached: {first_line}",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(1)
