"""HTTP scenario: commands/s and latency through real connections, from a load generator
in its own process, against `chronicle serve` in its own process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from api.bench.launch import running
from infrastructure.embedded import free_port
from infrastructure.settings import Settings

CONNECTIONS = 64
WORKERS = os.cpu_count() or 1  # one API process per core, as `serve --workers` runs it


def http_figures(
    settings: Settings,
    token: str,
    seconds: float,
    connections: int = CONNECTIONS,
    environment: dict[str, str] | None = None,
) -> dict[str, float]:
    """One run of the load generator against a fresh `chronicle serve` (with
    ``environment`` added to its own: ``OTEL_*`` variables, say)."""
    port = free_port()
    with running(settings, port, workers=WORKERS, environment=environment):
        generator = subprocess.run(
            [
                sys.executable,
                "-m",
                "api.bench.loadgen",
                f"http://127.0.0.1:{port}",
                str(connections),
                str(seconds),
            ],
            env=os.environ | {"CHRONICLE_BENCH_TOKEN": token},
            capture_output=True,
            check=False,
            timeout=seconds + 60,
        )
    if generator.returncode != 0:
        raise RuntimeError(f"the load generator failed: {generator.stderr.decode()[-2000:]}")
    figures: dict[str, float] = json.loads(generator.stdout)
    return figures
