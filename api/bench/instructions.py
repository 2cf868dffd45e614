"""Instructions a command costs the calling process (untraced, and traced always-on with
its spans recorded and shipped to the exporter process), beside a raw batched INSERT's
per row and the library's aggregate creation alone, counted by valgrind (which the VM's
speed does not move): ``python -m api.bench.instructions [--json]``.

Each figure is the difference of two runs (1,000 and 5,000 items) over 4,000, so start-up
is left out; the database server and the exporter process run outside valgrind and are
not counted.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from eventsourcing.persistence import StoredEvent

from api.bench.append import encoded_rows, raw_rate, store_rate, traced_store_rate
from api.bench.otlp_sink import otlp_sink
from api.bench.report import MASTER_KEY, fresh_database
from domain.conversation import Conversation
from infrastructure.embedded import EmbeddedServers
from infrastructure.event_store import PostgresEventStore
from infrastructure.settings import Settings

SMALL, LARGE = 1000, 5000
WORKLOADS = ("command", "command_traced", "raw_row", "raw_row_setup", "library_start")


def workload(kind: str, count: int, dsn: str) -> None:
    """Run ``count`` items of one workload (in the process valgrind counts)."""
    if kind == "library_start":
        for i in range(count):
            Conversation.start("bench", f"c{i}", [])
        return
    store = PostgresEventStore(Settings(database_url=dsn, master_key=MASTER_KEY))
    try:
        if kind == "command":
            store_rate(store, count)
        elif kind == "command_traced":  # exported to a sink, by processes valgrind counts not
            with otlp_sink() as otel:
                traced_store_rate(store, count, otel)
        else:
            (row,) = encoded_rows(store, 1)  # one encoded row, copied under fresh ids
            rows = [
                StoredEvent(uuid.UUID(int=i + 1), 1, row.topic, row.state) for i in range(count)
            ]
            if kind == "raw_row":
                raw_rate(dsn, rows)
    finally:
        store.close()


def counted(kind: str, count: int, dsn: str) -> int:
    """Instructions valgrind counts for one run of a workload."""
    done = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            "-m",
            "api.bench.instructions",
            "--workload",
            kind,
            str(count),
            dsn,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    collected = [line for line in done.stderr.splitlines() if "Collected" in line]
    if done.returncode != 0 or not collected:
        raise RuntimeError(f"valgrind could not count {kind}: {done.stderr[-500:]}")
    return int(collected[-1].split()[-1])


def per_item(kind: str, dsn: str) -> int:
    return (counted(kind, LARGE, dsn) - counted(kind, SMALL, dsn)) // (LARGE - SMALL)


def measure() -> dict[str, float]:
    with (
        tempfile.TemporaryDirectory(prefix="chronicle-instructions-") as tmp,
        EmbeddedServers(Path(tmp)).running() as servers,
    ):
        dsn = fresh_database(servers.postgres().url, "bench_instructions")
        # The tables, before any counted run: neither run of a pair then pays for them.
        PostgresEventStore(Settings(database_url=dsn, master_key=MASTER_KEY)).close()
        figures: dict[str, float] = {
            f"{kind}_instructions": per_item(kind, dsn) for kind in WORKLOADS
        }
    # The raw rows are made in the counted process; what making them costs is left out.
    figures["raw_row_instructions"] -= figures.pop("raw_row_setup_instructions")
    figures["raw_row_over_command"] = round(
        figures["raw_row_instructions"] / figures["command_instructions"], 3
    )
    figures["untraced_over_traced_command"] = round(
        figures["command_instructions"] / figures["command_traced_instructions"], 3
    )
    return figures


def main() -> None:
    if sys.argv[1:2] == ["--workload"]:
        kind, count, dsn = sys.argv[2], int(sys.argv[3]), sys.argv[4]
        workload(kind, count, dsn)
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (apt-get install valgrind)")
    figures = measure()
    if "--json" in sys.argv:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:28s} {value:,}")


if __name__ == "__main__":
    main()
