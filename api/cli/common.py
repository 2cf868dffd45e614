"""What every `chronicle` command group shares: the consoles, the one-line failure, the
settings, the command context and a container on the servers the settings name.

No server driver is imported here, so `chronicle --help` and a bad argument stay quick.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, NoReturn, Protocol
from uuid import UUID

import typer
from rich.console import Console

from application.context import CommandContext
from application.errors import ApplicationError
from domain.errors import DomainError
from domain.tenancy import TenantOwned
from infrastructure import tracing
from infrastructure.logs import configure_logging
from infrastructure.settings import Settings, SettingsError

if TYPE_CHECKING:
    from eventsourcing.domain import Aggregate

    from api.bootstrap import Container

TIME_FORMATS = ["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]
out = Console()
err = Console(stderr=True)


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def settings_from_env() -> Settings:
    """The settings of the environment; from here on the process logs as they say."""
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        fail(str(error), 2)
    configure_logging(settings.log_level, settings.log_format)
    return settings


def trace_as(*roles: str) -> None:
    """Trace this process as ``roles`` when the ``OTEL_*`` variables ask for it."""
    try:
        tracing.configure(roles)
    except SettingsError as error:
        fail(str(error), 2)


def cli_actor() -> str:
    return f"cli:{os.environ.get('USER') or 'unknown'}"


def cli_context(tenant: str, command: str) -> CommandContext:
    return CommandContext(tenant_id=tenant, actor=cli_actor(), command=command)


def parse_id(value: str, label: str) -> UUID:
    """An id given on the command line (a one-line failure if it is none)."""
    try:
        return UUID(value)
    except ValueError:
        fail(f"the {label} id {value!r} is not a UUID", 2)


def tenant_of(c: Container, aggregate_id: UUID, kind: type[Aggregate], tenant: str | None) -> str:
    """The tenant of an aggregate of ``kind``; `NotFound` if there is none, it is deleted,
    or ``tenant`` is given and it is another's (so one tenant's command shows no other's)."""
    from application.errors import NotFound

    try:
        found = c.store.get(aggregate_id, kind)
    except NotFound:
        found = None
    gone = getattr(found, "deleted", False)
    if not isinstance(found, TenantOwned) or tenant not in (None, found.tenant_id) or gone:
        raise NotFound(f"{kind.__name__.lower()} {aggregate_id} not found")
    return found.tenant_id


@contextmanager
def container() -> Iterator[Container]:
    """A container on the servers of a running `chronicle up`, or of the URLs, or embedded."""
    from api.bootstrap import Container
    from infrastructure.runtime import DataDirBusy, servers_for

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


class Foreground(Protocol):
    """Work a long-running command does in its threads until stopped."""

    def start(self) -> None: ...
    def wait(self) -> None: ...
    def stop(self) -> None: ...


def run_in_foreground(make: Callable[[Container], Foreground], doing: str) -> None:
    """Start the work ``make`` builds on a container, say what it is ``doing``, and stop
    it on Ctrl-C or SIGTERM."""
    stop_on_signals()
    with container() as c:
        work = make(c)
        work.start()
        out.print(f"{doing}; Ctrl-C stops", highlight=False)
        try:
            work.wait()
        except KeyboardInterrupt:
            pass
        finally:
            work.stop()


def stop_on_signals() -> None:
    """SIGTERM behaves like Ctrl-C, so every `finally` runs and children are stopped."""

    def stop(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
