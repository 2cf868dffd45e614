"""Chronicle's own processes for benchmarks: the API and helpers, as users run them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from api.bootstrap import Container
from application.context import CommandContext
from domain.identity import SCOPES
from infrastructure.settings import Settings

CHRONICLE = str(Path(sys.executable).parent / "chronicle")


@contextmanager
def running(
    settings: Settings,
    port: int,
    *helpers: list[str],
    workers: int = 1,
    environment: dict[str, str] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """`chronicle serve` (with ``workers`` API processes) on ``port`` plus each helper
    command, with ``environment`` added to theirs; yields the API process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHRONICLE_", "OTEL_"))}
    env |= settings.process_environment() | {
        "CHRONICLE_PORT": str(port),
        "CHRONICLE_LOG_LEVEL": "warning",
        "CHRONICLE_API_WORKERS": str(workers),
    }
    env |= environment or {}
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for command in (["serve"], *helpers):
            processes.append(
                subprocess.Popen(
                    [CHRONICLE, *command],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,  # its own group, with any workers it starts
                )
            )
        deadline = time.monotonic() + 60
        while not answers(f"http://127.0.0.1:{port}/healthz"):
            if time.monotonic() > deadline or processes[0].poll() is not None:
                raise RuntimeError("the API did not start")
            time.sleep(0.1)
        yield processes[0]
    finally:
        stop(processes)


def stop(processes: list[subprocess.Popen[bytes]], grace_s: float = 15) -> None:
    """SIGTERM to each process first (so they shut down side by side, a supervisor its
    workers), then SIGKILL to the process group of any still running after ``grace_s``
    (its workers included, which a kill of their supervisor alone would orphan). A bench
    leaves no `chronicle` process behind, even one that hangs on its way out."""
    for process in processes:
        process.terminate()
    deadline = time.monotonic() + grace_s
    for process in processes:
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # not yet reaped: the group is its own
            process.wait()


def answers(url: str) -> bool:
    """Whether ``url`` answers 200 now (the port opens before `serve`'s workers are up)."""
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


UNLIMITED = 1_000_000  # requests a minute: far above what one machine serves


def bench_key(settings: Settings, rate_limit_per_minute: int = UNLIMITED) -> str:
    """A key of tenant ``bench`` with every scope, which the rate limit never stops (a
    benchmark measures the machine, not the limit)."""
    container = Container.build(settings)
    try:
        context = CommandContext("bench", "bench", "keys.create")
        issued = container.portal.call(
            container.identity.issue_key,
            context,
            "bench",
            "bench",
            list(SCOPES),
            rate_limit_per_minute=rate_limit_per_minute,
        )
        return issued.token
    finally:
        container.close()
