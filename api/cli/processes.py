"""`chronicle up`, `serve`, `relay`, `scheduler`, `seal`, `worker` and `project`: the
long-running processes, each in the foreground until Ctrl-C or SIGTERM; and `health`, the
healthcheck of their work. (`chronicle alerts` and `chronicle webhooks run` are in their
command groups.)

What runs in each process is in `api/processes/`; here are only the commands that start it.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Annotated

import typer

from api.cli.common import (
    container,
    fail,
    out,
    run_in_foreground,
    settings_from_env,
    stop_on_signals,
    trace_as,
)
from infrastructure import health as checks

commands = typer.Typer()


@commands.command()
def up() -> None:
    """Start Chronicle: embedded servers for unset URLs, then the API. Ctrl-C stops all."""
    from api.processes.up import PortTaken, run_up
    from infrastructure.runtime import DataDirBusy

    stop_on_signals()
    settings = settings_from_env()
    trace_as("api", "projector", "relay", "scheduler", "alerts")
    try:
        run_up(settings, out)
    except (DataDirBusy, PortTaken) as error:
        fail(str(error))
    except KeyboardInterrupt:
        return  # a requested stop is a clean exit


@commands.command()
def serve(
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="API processes sharing the port [CHRONICLE_API_WORKERS, 1]"),
    ] = None,
) -> None:
    """Start the API only, on the servers named by CHRONICLE_*_URL or a running `up`."""
    from api.processes.serve import run_serve

    settings = settings_from_env()
    if workers is not None:
        settings = replace(settings, api_workers=workers)
    trace_as("api")  # each worker process, if any, also configures its own
    stop_on_signals()
    try:
        run_serve(settings)
    except KeyboardInterrupt:
        return


@commands.command()
def relay() -> None:
    """Publish every committed event to NATS JetStream (one active relay; others stand by)."""
    from api.processes.workers import run_relay

    settings = settings_from_env()
    trace_as("relay")
    out.print("relaying events to NATS JetStream; Ctrl-C stops", highlight=False)
    run_relay(settings)


@commands.command()
def scheduler() -> None:
    """Time out tasks whose lease expired (timers live in the log; restarts lose none)."""
    trace_as("scheduler")
    run_in_foreground(lambda c: c.scheduler(), "scheduling task timeouts")


@commands.command()
def seal() -> None:
    """Seal the hash chain up to the head of the log, as it grows (sealers may run side by
    side); `audit verify` then proves the log was not altered."""
    stop_on_signals()
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
    "webhooks": checks.webhooks,
    "alerts": checks.alerts,
}


@commands.command()
def health(
    kind: Annotated[
        str, typer.Argument(help=f"Whose work: {', '.join(WORKER_HEALTH)} (the command).")
    ],
) -> None:
    """Exit 0 while the work of that command gets done, else 1 and why (a healthcheck).

    It asks the database, not a process, so with several processes of a kind
    it answers for their work together. It writes nothing.
    """
    from infrastructure.runtime import read_runtime

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


@commands.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
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
    import httpx

    from api.processes.task_worker import Worker, WorkerConfig, default_worker_id
    from infrastructure.runtime import read_runtime

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
    stop_on_signals()
    trace_as("worker")
    try:
        done = Worker(config).run()
    except KeyboardInterrupt:
        return
    except httpx.HTTPError as error:
        fail(f"cannot reach Chronicle at {url}: {error}")
    out.print(f"processed {done} task(s)", highlight=False)


@commands.command()
def project(
    name: Annotated[
        list[str] | None, typer.Option("--name", help="Only these projections (repeatable).")
    ] = None,
) -> None:
    """Run projection workers in the foreground (as many processes as you like)."""
    stop_on_signals()
    trace_as("projector")
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
