"""What a bench run measures (its plan) and what it found (its report), shared by the
scenarios; and the fresh database each scenario runs in.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any

import psycopg

# The bench's throwaway databases are all opened with this one master key, by every
# process a scenario starts.
MASTER_KEY = base64.b64encode(hashlib.sha256(b"chronicle bench").digest()).decode()


@dataclass(frozen=True)
class Plan:
    rebuild_sizes: tuple[int, int]
    runs: int
    live_connections: int
    live_rate: float
    live_seconds: float
    tasks: int
    append_runs: int = 3
    append_commands: int = 3000
    bare_commands: int = 600
    raw_rows: int = 20_000
    load_repeats: int = 50
    http_runs: int = 1
    http_seconds: float = 5.0
    documents_seconds: float = 3.0
    documents_unpaced_seconds: float = 2.0

    @classmethod
    def for_mode(cls, quick: bool) -> Plan:
        if quick:
            return cls((10_000, 100_000), 1, 200, 50, 4, 200)
        return cls(
            (100_000, 1_000_000),
            3,
            1000,
            100,
            10,
            1000,
            append_runs=5,
            append_commands=10_000,
            bare_commands=2000,
            raw_rows=50_000,
            load_repeats=200,
            http_runs=3,
            http_seconds=10.0,
            documents_seconds=10.0,
            documents_unpaced_seconds=5.0,
        )


@dataclass
class Report:
    figures: dict[str, Any] = field(default_factory=dict)
    rows: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, key: str, value: Any, label: str, shown: str) -> None:
        self.figures[key] = value
        self.rows.append((label, shown, key))


def checkpoint(dsn: str) -> None:
    """Flush what earlier scenarios left dirty, so that a scenario's commits do not wait
    on the disk behind their writes (a commit's WAL flush took several times longer while
    the rebuild's million rows were still being written out)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CHECKPOINT")


def fresh_database(admin_dsn: str, name: str) -> str:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    return admin_dsn.rsplit("/", 1)[0] + f"/{name}"
