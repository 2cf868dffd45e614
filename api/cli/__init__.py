"""The `chronicle` command line: run the servers, and administer keys, users' tokens,
projections, the log, the audit trail, budgets, metrics, alerts and webhooks; one module
per command group.

Every command answers bad input with a one-line message and a non-zero exit.
"""

from __future__ import annotations

import sys

import typer

from api.cli import (
    alerts,
    audit,
    bench,
    budget,
    demo,
    events,
    keys,
    metrics,
    processes,
    projections,
    retention,
    subjects,
    users,
    webhooks,
)
from api.cli.common import err
from infrastructure.logs import configure_logging

app = typer.Typer(
    name="chronicle",
    help="Chronicle: an event-sourced CQRS backend for AI-assistant and agent platforms.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
# In this order in `chronicle --help`: the commands, then the groups.
app.add_typer(processes.commands)
app.add_typer(bench.commands)
app.add_typer(events.commands)
app.add_typer(demo.commands)
app.add_typer(keys.group, name="keys")
app.add_typer(users.tokens, name="tokens")
app.add_typer(users.users, name="users")
app.command("notify")(users.notify)
app.add_typer(projections.group, name="projections")
app.add_typer(events.group, name="events")
app.add_typer(audit.group, name="audit")
app.add_typer(budget.group, name="budget")
app.command("metrics")(metrics.metrics)
app.add_typer(alerts.group, name="alerts")
app.add_typer(webhooks.group, name="webhooks")
app.add_typer(subjects.group, name="subjects")
app.add_typer(retention.group, name="retention")


def unreachable() -> tuple[type[Exception], ...]:
    """The errors that mean a server named by the settings does not answer (imported only
    when an error is there to judge)."""
    import eventsourcing.persistence
    import nats.errors
    import psycopg
    import redis.exceptions

    from application.errors import StoreUnavailable

    return (
        psycopg.OperationalError,
        eventsourcing.persistence.OperationalError,
        StoreUnavailable,
        redis.exceptions.ConnectionError,
        nats.errors.NoServersError,
        ConnectionError,
    )


def main() -> None:
    configure_logging()
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(0)
    except Exception as error:
        from infrastructure.subject_keys import MasterKeyError

        if isinstance(error, MasterKeyError):
            err.print(f"[red]error:[/red] {error}", highlight=False, soft_wrap=True)
            sys.exit(2)
        if not isinstance(error, unreachable()):
            raise
        # A server that does not answer: one line, not a traceback.
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        err.print(
            f"[red]error:[/red] a server could not be reached: {first_line}",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(1)
