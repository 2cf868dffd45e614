"""Schemathesis over a running Chronicle's own OpenAPI document, every check on.

Used by the fuzz test in `make test` (seeded, bounded) and by `make fuzz` (longer,
unseeded). The fuzzer runs as its own process, as a third party would run it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.e2e.conftest import Chronicle

ROOT = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).with_name("schemathesis.toml")
SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")
FUZZ_SCOPES = "commands:write,read,live:read,admin,audit:read,tokens:write"
FUZZ_RATE_LIMIT = 1_000_000  # requests per minute: the fuzzer must not meet the limiter


@dataclass(frozen=True)
class FuzzRun:
    """What the fuzzer did and found."""

    returncode: int
    output: str
    operations: int
    generated: int
    passed: int

    @property
    def summary(self) -> str:
        """The failures the fuzzer describes (with a curl line each), and its summary."""
        for heading in ("FAILURES", "ERRORS", "SUMMARY"):
            if heading in self.output:
                return self.output[self.output.find(heading) :]
        return self.output[-4000:]


def _count(pattern: str, text: str) -> int:
    found = re.search(pattern, text)
    return int(found.group(1)) if found else 0


def fuzz_key(chronicle: Chronicle) -> str:
    """A key of its own tenant for the fuzzer: every scope, a limit it never meets."""
    created = chronicle.cli(
        "keys", "create", "--tenant", "fuzz", "--scopes", FUZZ_SCOPES,
        "--rate-limit", str(FUZZ_RATE_LIMIT),
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    return created.stdout.strip().splitlines()[-1]


def fuzz(base_url: str, key: str, *, max_examples: int, seed: int | None = None) -> FuzzRun:
    """Run the fuzzer against ``base_url`` with ``key``; its exit code and figures."""
    command = [
        SCHEMATHESIS,
        "--config-file",
        str(CONFIG),
        "run",
        f"{base_url}/schema/openapi.json",
        "--checks",
        "all",
        "--header",
        f"Authorization: Bearer {key}",
        "--max-examples",
        str(max_examples),
        "--no-color",
        "--output-truncate",
        "false",
        *(["--seed", str(seed)] if seed is not None else []),
    ]
    # From the project root, so the configuration's hooks module (tests.fuzz.hooks) imports.
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False, env=None)
    output = done.stdout + done.stderr
    return FuzzRun(
        done.returncode,
        output,
        operations=_count(r"Tested: (\d+)", output),
        generated=_count(r"(\d+) generated", output),
        passed=_count(r"\d+ generated, (\d+) passed", output),
    )
