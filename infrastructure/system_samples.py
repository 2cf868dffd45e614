"""Operational samples: figures of the running system that are not in the log (how far the
projections and the relay are behind, parked events, live connections, HTTP latency, whether
the store answers), kept per minute and per hour in tables of their own.

Not a read model: nothing here reads the log, and a rebuild never touches them. Each kind
has one writer (the alerts process samples the backlogs and the store; each API process its
own connections and latency, as a ``source`` of its own); a bucket keeps a source's worst
sample (the highest, or for `store_available` the lowest).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from psycopg import Connection

from infrastructure.read_models import SETUP_LOCK, Conn, connect
from projections.metrics import ORIGIN, minute_of, step_of, steps_from

MINUTES, HOURS = "chronicle_sample_minutes", "chronicle_sample_hours"
DDL = [
    statement
    for table in (MINUTES, HOURS)
    for statement in (
        f"CREATE TABLE IF NOT EXISTS {table} (name text NOT NULL, label text NOT NULL,"
        " source text NOT NULL, at timestamptz NOT NULL, value double precision NOT NULL,"
        " PRIMARY KEY (name, at, label, source))",
        f"CREATE INDEX IF NOT EXISTS {table}_at ON {table} (at)",
    )
]


@dataclass(frozen=True)
class OperatorMetric:
    """What an operator metric says, and how its samples add up: ``combine`` over the
    processes and labels of one bucket, ``worst`` over the buckets of a step or window
    (SQL aggregates)."""

    description: str
    combine: str = "max"
    worst: str = "max"


OPERATOR_METRICS: dict[str, OperatorMetric] = {
    "projection_lag_s": OperatorMetric(
        "seconds the oldest event a projection has not applied has waited, by projection"
        " (over every label: the projection furthest behind)"
    ),
    "relay_lag_events": OperatorMetric("events in the log not yet published to JetStream"),
    "parked_events": OperatorMetric(
        "events set aside by projections, by projection (over every label: all of them)", "sum"
    ),
    "live_connections": OperatorMetric(
        "live connections (SSE and WebSocket) of every API process, by transport", "sum"
    ),
    "http_p95_ms": OperatorMetric(
        "95th percentile of HTTP request durations in ms, live streams and task claims left"
        " out (the slowest API process's)"
    ),
    "store_available": OperatorMetric(
        "1 while PostgreSQL answers the sampler, 0 while it does not (the lowest)", "min", "min"
    ),
}


@dataclass(frozen=True)
class Sample:
    name: str
    label: str
    value: float
    at: datetime


def ensure_sample_tables(dsn: str) -> None:
    """Create the samples' tables once (processes starting together agree)."""
    with connect(dsn) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (SETUP_LOCK,))
        for statement in DDL:
            conn.execute(statement)


def write_samples(conn: Connection[Any], samples: Iterable[Sample], source: str = "") -> None:
    """Fold each sample into its minute's and its hour's bucket of ``source``."""
    rows = []
    for sample in samples:
        minute = minute_of(sample.at)
        rows += [
            (table, at, sample)
            for table, at in ((MINUTES, minute), (HOURS, minute.replace(minute=0)))
        ]
    with conn.cursor() as cursor:
        for table, at, sample in rows:
            keep = "least" if OPERATOR_METRICS[sample.name].worst == "min" else "greatest"
            cursor.execute(
                f"INSERT INTO {table} AS t (name, label, source, at, value)"  # noqa: S608
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (name, at, label, source)"
                f" DO UPDATE SET value = {keep}(t.value, excluded.value)",
                (sample.name, sample.label, source, at, float(sample.value)),
            )


def _buckets(metric: OperatorMetric, table: str) -> str:
    """(at, value) of each bucket of ``%(name)s`` in [``%(start)s``, ``%(end)s``), its
    processes and labels (only ``%(label)s``, unless null) combined."""
    combined = f"SELECT at, {metric.combine}(value) AS value FROM {table}"  # noqa: S608
    return (
        f"{combined} WHERE name = %(name)s AND (%(label)s::text IS NULL OR label = %(label)s)"
        " AND at >= %(start)s AND at < %(end)s GROUP BY at"
    )


def sample_series(
    conn: Conn,
    names: list[str],
    label: str | None,
    start: datetime,
    end: datetime,
    step: timedelta,
) -> dict[str, list[tuple[datetime, float | None]]]:
    """Each operator metric's worst figure over each ``step`` from the one ``start`` is in
    until ``end``, oldest first; ``None`` where nothing was sampled. Steps of an hour or
    more read the hour buckets."""
    steps, first = steps_from(start, end, step), step_of(start, step)
    series = {}
    table = HOURS if step >= timedelta(hours=1) else MINUTES
    for name in names:
        metric = OPERATOR_METRICS[name]
        worst = f"{metric.worst}(value) AS value"
        query = (
            f"SELECT date_bin(%(step)s, at, %(origin)s) AS at, {worst}"  # noqa: S608
            f" FROM ({_buckets(metric, table)}) AS buckets GROUP BY 1"
        )
        params = {"name": name, "label": label, "step": step, "origin": ORIGIN}
        params |= {"start": first, "end": end}
        found = {row["at"]: row["value"] for row in conn.execute(query, params).fetchall()}
        series[name] = [(at, found.get(at)) for at in steps]
    return series


def sample_totals(
    conn: Conn, names: Iterable[str], start: datetime, end: datetime
) -> dict[str, float | None]:
    """Each operator metric's worst figure over the minute buckets in [start, end)."""
    totals = {}
    for name in names:
        metric = OPERATOR_METRICS[name]
        buckets = _buckets(metric, MINUTES)
        row = conn.execute(
            f"SELECT {metric.worst}(value) AS value FROM ({buckets}) AS b",  # noqa: S608
            {"name": name, "label": None, "start": start, "end": end},
        ).fetchone()
        totals[name] = None if row is None else row["value"]
    return totals


def forget_old_samples(
    conn: Connection[Any], minutes_before: datetime, hours_before: datetime
) -> int:
    """Delete minute buckets older than ``minutes_before`` and hour buckets older than
    ``hours_before``; how many rows went."""
    deleted = 0
    for table, before in ((MINUTES, minutes_before), (HOURS, hours_before)):
        deleted += conn.execute(f"DELETE FROM {table} WHERE at < %s", (before,)).rowcount  # noqa: S608
    return deleted
