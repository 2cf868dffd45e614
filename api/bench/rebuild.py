"""Rebuild scenario: projection rebuild events/s beside a raw sequential read of the
events table, and the rebuild's peak memory at two log sizes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from psycopg.rows import dict_row, tuple_row

from api.bench.report import MASTER_KEY
from api.bootstrap import Container
from infrastructure.event_log import LogReader
from infrastructure.read_models import connect

READ_BATCH = 5000


def raw_read_rate(dsn: str, *, binary: bool = False) -> float:
    """Events/s of reading the whole log in position order with the followers' statement
    (`LogReader`), undecoded: rows as dicts in text format (plain psycopg), or with
    ``binary`` as tuples in binary format (the cheapest psycopg read, as followers read)."""
    query = LogReader().statement()
    began, read, last = time.perf_counter(), 0, 0
    with connect(dsn) as conn, conn.cursor(row_factory=tuple_row if binary else dict_row) as cur:
        while rows := cur.execute(
            query, {"after": last, "limit": READ_BATCH}, binary=binary
        ).fetchall():
            read += len(rows)
            last = rows[-1][0] if binary else rows[-1]["notification_id"]  # type: ignore[index]
    return read / (time.perf_counter() - began)


def rebuild_rate(container: Container, projection: str) -> float:
    began = time.perf_counter()
    _, _, events = container.rebuild(projection).run()
    return events / (time.perf_counter() - began)


def rebuild_peak_rss(dsn: str, projection: str) -> int:
    """Peak resident memory (bytes) of `chronicle projections rebuild` in its own process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHRONICLE_")}
    env["CHRONICLE_DATABASE_URL"] = dsn
    env["CHRONICLE_MASTER_KEY"] = MASTER_KEY
    chronicle = str(Path(sys.executable).parent / "chronicle")
    process = subprocess.Popen(
        [chronicle, "projections", "rebuild", projection],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"rebuild of {projection} failed")
    return usage.ru_maxrss * 1024
