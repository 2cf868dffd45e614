"""`chronicle bench`: Chronicle measured beside its baselines (the suite is `api/bench/`)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from api.cli.common import err, out

commands = typer.Typer()


@commands.command()
def bench(
    quick: Annotated[bool, typer.Option(help="Smaller sizes, one run each.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    scenario: Annotated[
        list[str] | None,
        typer.Option(
            help="Only these scenarios (repeatable):"
            " rebuild, live, tasks, append, privacy, load, http, documents, metrics, webhooks."
        ),
    ] = None,
) -> None:
    """Measure Chronicle beside its baselines on fresh embedded servers."""
    from api.bench.runner import run_bench

    figures = run_bench(quick, err if as_json else out, set(scenario) if scenario else None)
    if as_json:
        print(json.dumps(figures))
