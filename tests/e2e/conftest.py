"""End-to-end fixtures: a real `chronicle up` process on its own data directory and port."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from infrastructure.embedded import free_port

CHRONICLE = str(Path(sys.executable).parent / "chronicle")


def alive(pids: list[int]) -> list[int]:
    """Those of ``pids`` that still run (zombies count as gone)."""
    running = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                running.append(pid)
        except psutil.NoSuchProcess:
            pass
    return running


class Chronicle:
    """`chronicle up` as a user runs it, with helpers to wait for it and stop it."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[str] | None = None
        self.output = data_dir.parent / f"{data_dir.name}-up.log"
        self.errors: Path | None = None  # where stderr goes when kept apart from stdout
        self.extra_env: dict[str, str] = {}

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHRONICLE_")}
        env |= {"CHRONICLE_DATA_DIR": str(self.data_dir), "CHRONICLE_PORT": str(self.port)}
        return env | self.extra_env

    def start(self, stderr_apart: bool = False) -> Chronicle:
        if stderr_apart:
            self.errors = self.data_dir.parent / f"{self.data_dir.name}-up.err"
        self.process = subprocess.Popen(
            [CHRONICLE, "up"],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self.output.open("w"),
            stderr=self.errors.open("w") if stderr_apart and self.errors else subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"chronicle up exited:\n{self.output.read_text()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"chronicle up did not become ready:\n{self.output.read_text()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> float:
        """Send ``sig`` and wait; returns the seconds it took to exit."""
        assert self.process is not None
        began = time.monotonic()
        self.process.send_signal(sig)
        self.process.wait(timeout)
        return time.monotonic() - began

    def children(self) -> list[int]:
        """Every process `up` started, and theirs (PostgreSQL's backends, say)."""
        assert self.process is not None
        return [c.pid for c in psutil.Process(self.process.pid).children(recursive=True)]

    @property
    def key(self) -> str:
        return (self.data_dir / "dev-api-key").read_text().strip()

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key or self.key}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [CHRONICLE, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


@pytest.fixture
def chronicle(tmp_path: Path) -> Iterator[Chronicle]:
    instance = Chronicle(tmp_path / "data")
    yield instance
    if instance.process is not None and instance.process.poll() is None:
        instance.stop(signal.SIGKILL)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The figures fault tests measured, one line each."""
    figures = [
        value
        for outcome in ("passed", "failed")
        for report in terminalreporter.stats.get(outcome, [])
        for name, value in getattr(report, "user_properties", [])
        if name == "fault"
    ]
    if figures:
        terminalreporter.section("fault tests")
        for line in figures:
            terminalreporter.write_line(json.dumps(line))
