"""The `chronicle` command line: run the servers, and administer keys.

Every command answers bad input with a one-line message and a non-zero exit.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, NoReturn
from uuid import UUID

import structlog
import typer
from rich.console import Console
from rich.table import Table

from api.bootstrap import Container
from application.context import CommandContext
from application.errors import ApplicationError
from domain.errors import DomainError
from domain.identity import SCOPES
from infrastructure.runtime import DataDirBusy, servers_for
from infrastructure.settings import Settings, SettingsError

app = typer.Typer(
    name="chronicle",
    help="Chronicle: an event-sourced CQRS backend for AI-assistant and agent platforms.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")

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


def cli_context(tenant: str, command: str) -> CommandContext:
    user = os.environ.get("USER") or "unknown"
    return CommandContext(tenant_id=tenant, actor=f"cli:{user}", command=command)


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
    from api.server import run_up

    _stop_on_signals()
    try:
        run_up(settings_from_env(), out)
    except DataDirBusy as error:
        fail(str(error))
    except KeyboardInterrupt:
        return  # a requested stop is a clean exit


@app.command()
def serve() -> None:
    """Start the API only, on the servers named by CHRONICLE_*_URL or a running `up`."""
    from api.server import run_serve

    _stop_on_signals()
    try:
        run_serve(settings_from_env())
    except KeyboardInterrupt:
        return


@keys_app.command("create")
def keys_create(
    tenant: Annotated[str, typer.Option(help="Tenant name; created if new.")],
    scopes: Annotated[
        str, typer.Option(help=f"Comma-separated scopes from: {', '.join(SCOPES)}.")
    ] = "commands:write,read,live:read",
    name: Annotated[str, typer.Option(help="A label for the key.")] = "cli",
) -> None:
    """Issue a key; its secret is printed once, as the last line."""
    wanted = [s.strip() for s in scopes.split(",") if s.strip()]
    with container() as c:
        issued = c.identity.issue_key(cli_context(tenant, "keys.create"), tenant, name, wanted)
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
    """Revoke a key; it is refused from then on."""
    try:
        parsed = UUID(key_id)
    except ValueError:
        fail(f"not a key id: {key_id!r}", 2)
    with container() as c:
        key = c.identity.find_key(parsed)
        c.identity.revoke_key(cli_context(key.tenant_id, "keys.revoke"), parsed, reason)
    out.print(f"revoked {parsed}", highlight=False)


def _stop_on_signals() -> None:
    """SIGTERM behaves like Ctrl-C, so every `finally` runs and children are stopped."""

    def stop(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


def main() -> None:
    structlog.configure(
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(0)
