"""`chronicle demo`: a few minutes of realistic activity in a running Chronicle."""

from __future__ import annotations

import asyncio
import os
from typing import Annotated

import typer

from api.cli.common import fail, out, settings_from_env

commands = typer.Typer()


@commands.command()
def demo(
    minutes: Annotated[
        float, typer.Option(min=0.05, max=60, help="How long to keep it going.")
    ] = 3.0,
    url: Annotated[
        str | None, typer.Option(help="Chronicle's URL (default: the running `chronicle up`).")
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(help="An API key with every scope (default: CHRONICLE_API_KEY, else up's)."),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="The same activity again.")] = None,
) -> None:
    """Fill a running Chronicle with a few minutes of activity for the console: people
    chatting, an assistant answering (thoughts, tool calls, streamed tokens, usage; some
    runs failing, which fires an alert), tasks with a retry and a dead letter, and two
    people co-editing a document. It stops by itself."""
    from api.demo import run_demo
    from api.processes.up import DEV_KEY_FILE
    from infrastructure.runtime import read_runtime

    settings = settings_from_env()
    running = read_runtime(settings.data_dir) or {}
    url = url or running.get("api_url")
    if url is None:
        fail("no running Chronicle: start one with `make run`, or give --url", 2)
    key_file = settings.data_dir / DEV_KEY_FILE
    key = key or os.environ.get("CHRONICLE_API_KEY")
    if key is None and key_file.exists():
        key = key_file.read_text().strip()
    if not key:
        fail("no API key: give --key, or set CHRONICLE_API_KEY", 2)
    try:
        import chronicle_client  # noqa: F401
    except ImportError:
        fail("the demo needs the Python SDK: pip install -e clients/python", 2)
    say = lambda text: out.print(text, highlight=False, soft_wrap=True)  # noqa: E731
    asyncio.run(run_demo(url.rstrip("/"), key, minutes * 60, say, seed))
