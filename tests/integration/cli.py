"""Running the real `chronicle` command against the session's servers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from infrastructure.settings import Settings

CHRONICLE = str(Path(sys.executable).parent / "chronicle")


def cli_env(settings: Settings) -> dict[str, str]:
    """The environment of a CLI process pointed at ``settings``' servers only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHRONICLE_")}
    return env | settings.process_environment()


def run_cli(
    settings: Settings, *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CHRONICLE, *args],
        env=cli_env(settings),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
